"""What each kind of layer holds: its target fields, the column names they are found under
(English and Chinese, case-insensitive), which are required, and its geometry."""

from dataclasses import dataclass

from django.utils.translation import pgettext_lazy


@dataclass(frozen=True)
class Target:
    name: str
    aliases: tuple[str, ...]
    required: bool = False


@dataclass(frozen=True)
class LayerKind:
    name: str
    geometry: tuple[str, ...]  # accepted geometry types after making multi
    targets: tuple[Target, ...]
    key: str  # the target rows are matched on when re-imported (upsert)
    geometry_required: bool = True

    def target(self, name: str) -> Target:
        return next(target for target in self.targets if target.name == name)


SOURCE_ID = Target(
    "source_id", ("source_id", "id", "fid", "osm_id", "objectid", "编号", "标识码", "bsm")
)
# Since when a record is in force; today where a file does not say.
VALID_FROM = Target("valid_from", ("valid_from", "start_date"))
# Buildings' and shelters' place in the vertical: underground, and a stratified unit's layer.
STRATUM = (
    Target("is_underground", ("is_underground", "underground", "undergrnd", "地下", "是否地下")),
    Target(
        "elevation_bottom_m",
        ("elevation_bottom_m", "elev_bot", "bottom_elevation", "起始高程", "底部高程"),
    ),
    Target(
        "elevation_top_m", ("elevation_top_m", "elev_top", "top_elevation", "终止高程", "顶部高程")
    ),
)

KINDS: dict[str, LayerKind] = {
    "parcels": LayerKind(
        name="parcels",
        geometry=("MultiPolygon",),
        key="unit_code",
        targets=(
            Target(
                "unit_code",
                ("unit_code", "不动产单元代码", "不动产单元号", "bdcdyh", "zddm", "宗地代码"),
                True,
            ),
            Target(
                "land_use", ("land_use", "land_use_code", "地类编码", "用途", "dlbm", "tdyt"), True
            ),
            Target("name", ("name", "名称", "宗地名称")),
            Target("address", ("address", "坐落", "zl", "地址")),
            Target("valid_from", (*VALID_FROM.aliases, "登记日期")),
        ),
    ),
    "buildings": LayerKind(
        name="buildings",
        geometry=("MultiPolygon",),
        key="source_id",
        targets=(
            SOURCE_ID,
            Target("name", ("name", "名称", "建筑名称", "fwmc")),
            Target("address", ("address", "坐落", "地址")),
            Target(
                "floors_above",
                ("floors_above", "floors", "levels", "building:levels", "层数", "地上层数", "cs"),
            ),
            Target("floors_below", ("floors_below", "basements", "地下层数")),
            Target("height_m", ("height_m", "height", "高度")),
            Target("gross_floor_area_m2", ("gross_floor_area_m2", "gfa", "建筑面积", "jzmj")),
            Target("use", ("use", "building_use", "用途", "房屋用途")),
            Target("year_built", ("year_built", "year", "建成年份", "竣工年份")),
            *STRATUM,
            VALID_FROM,
        ),
    ),
    "shelters": LayerKind(
        name="shelters",
        geometry=("Point",),
        key="source_id",
        targets=(
            SOURCE_ID,
            Target("name", ("name", "工程名称", "名称"), True),
            Target("shelter_type", ("shelter_type", "type", "工程类型", "类型"), True),
            Target(
                "protection_class", ("protection_class", "prot_class", "防护等级", "抗力等级"), True
            ),
            Target(
                "capacity_persons", ("capacity_persons", "capacity", "掩蔽人数", "容纳人数"), True
            ),
            Target(
                "usable_area_m2",
                ("usable_area_m2", "usable_area", "usable_m2", "使用面积", "有效面积"),
                True,
            ),
            Target("condition", ("condition", "状况", "完好状况")),
            Target("peacetime_use", ("peacetime_use", "peace_use", "平时用途")),
            Target("classification", ("classification", "sec_class", "密级")),
            *STRATUM,
            VALID_FROM,
        ),
    ),
    "roads": LayerKind(
        name="roads",
        geometry=("LineString",),
        key="source_id",
        targets=(
            SOURCE_ID,
            Target("name", ("name", "道路名称", "名称")),
            Target("highway", ("highway", "class", "type", "道路等级", "类型")),
        ),
    ),
    "population": LayerKind(
        name="population",
        geometry=("Polygon",),
        key="source_id",
        targets=(
            SOURCE_ID,
            Target(
                "residents", ("residents", "population", "pop", "count", "人口", "常住人口"), True
            ),
        ),
    ),
    "zoning": LayerKind(
        name="zoning",
        geometry=("MultiPolygon",),
        key="source_id",
        targets=(
            SOURCE_ID,
            Target(
                "planned_use",
                ("planned_use", "plan_use", "规划用途", "用地用海分类", "ydyhfl", "code"),
                True,
            ),
            Target("plan_name", ("plan_name", "规划名称")),
            Target("plan_date", ("plan_date", "批复日期")),
            Target("max_far", ("max_far", "容积率上限", "far")),
        ),
    ),
    "agencies": LayerKind(
        name="agencies",
        geometry=("Point",),  # where the agency sits: the building there becomes its seat
        key="name",
        geometry_required=False,
        targets=(
            Target("name", ("name", "单位名称", "机关名称"), True),
            Target("parent", ("parent", "上级单位")),
            Target("level", ("level", "级别")),
            # The highest classification of premises the agency may be given (保密资格).
            Target("clearance", ("clearance", "保密资格", "密级")),
            Target("minister", ("minister", "正部级")),
            Target("vice_minister", ("vice_minister", "vice_min", "副部级")),
            Target("director_general", ("director_general", "dir_gen", "正司局级")),
            Target(
                "deputy_director_general", ("deputy_director_general", "depdir_gen", "副司局级")
            ),
            Target("division", ("division", "处级")),
            Target("below_division", ("below_division", "below_div", "处级以下")),
        ),
    ),
}

# The kinds as people read them, in the active language (the names above are the keys).
KIND_LABELS = {
    "parcels": pgettext_lazy("layer kind", "parcels"),
    "buildings": pgettext_lazy("layer kind", "buildings"),
    "shelters": pgettext_lazy("layer kind", "shelters"),
    "roads": pgettext_lazy("layer kind", "roads"),
    "population": pgettext_lazy("layer kind", "population"),
    "zoning": pgettext_lazy("layer kind", "zoning"),
    "agencies": pgettext_lazy("layer kind", "agencies"),
}
