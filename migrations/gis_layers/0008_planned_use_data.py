"""The 2023 land and sea use classes (国土空间调查、规划、用途管制用地用海分类指南) used on land, and
the crosswalk from each GB/T 21010-2017 second-level class. Written out here, not imported,
so that this migration means the same thing forever."""

from django.db import migrations

FIRST_LEVEL = [
    ("01", "耕地", "Cultivated land"),
    ("02", "园地", "Garden land"),
    ("03", "林地", "Forest land"),
    ("04", "草地", "Grassland"),
    ("05", "湿地", "Wetland"),
    ("06", "农业设施建设用地", "Agricultural facility construction land"),
    ("07", "居住用地", "Residential land"),
    ("08", "公共管理与公共服务用地", "Public administration and public service land"),
    ("09", "商业服务业用地", "Commercial and business service land"),
    ("10", "工矿用地", "Industrial and mining land"),
    ("11", "仓储用地", "Storage land"),
    ("12", "交通运输用地", "Transport land"),
    ("13", "公用设施用地", "Public utility land"),
    ("14", "绿地与开敞空间用地", "Green space and open space land"),
    ("15", "特殊用地", "Special-use land"),
    ("16", "留白用地", "Reserved land"),
    ("17", "陆地水域", "Inland water"),
    ("23", "其他土地", "Other land"),
]

SECOND_LEVEL = [
    ("0101", "水田", "Paddy field"), ("0102", "水浇地", "Irrigated land"), ("0103", "旱地", "Dry land"),
    ("0201", "果园", "Orchard"), ("0202", "茶园", "Tea garden"), ("0203", "橡胶园", "Rubber plantation"),
    ("0204", "其他园地", "Other garden land"),
    ("0301", "乔木林地", "Arbor forest land"), ("0302", "竹林地", "Bamboo forest land"),
    ("0303", "灌木林地", "Shrub land"), ("0304", "其他林地", "Other forest land"),
    ("0401", "天然牧草地", "Natural pasture"), ("0402", "人工牧草地", "Artificial pasture"),
    ("0403", "其他草地", "Other grassland"),
    ("0501", "森林沼泽", "Forest swamp"), ("0502", "灌丛沼泽", "Shrub swamp"), ("0503", "沼泽草地", "Marsh grassland"),
    ("0504", "其他沼泽地", "Other swamp"), ("0505", "沿海滩涂", "Coastal tidal flat"),
    ("0506", "内陆滩涂", "Inland tidal flat"), ("0507", "红树林地", "Mangrove land"),
    ("0601", "农村道路", "Rural road"), ("0602", "设施农用地", "Agricultural facilities land"),
    ("0603", "田坎", "Field ridge"),
    ("0701", "城镇住宅用地", "Urban residential land"), ("0702", "城镇社区服务设施用地", "Urban community service land"),
    ("0703", "农村宅基地", "Rural homestead"), ("0704", "农村社区服务设施用地", "Rural community service land"),
    ("0801", "机关团体用地", "Government agencies and public organisations"), ("0802", "科研用地", "Scientific research land"),
    ("0803", "文化用地", "Cultural land"), ("0804", "教育用地", "Education land"), ("0805", "体育用地", "Sports land"),
    ("0806", "医疗卫生用地", "Medical and health land"), ("0807", "社会福利用地", "Social welfare land"),
    ("0901", "商业用地", "Commercial land"), ("0902", "商务金融用地", "Business and finance land"),
    ("0903", "娱乐康体用地", "Entertainment and recreation land"), ("0904", "其他商业服务业用地", "Other commercial service land"),
    ("1001", "工业用地", "Industrial land"), ("1002", "采矿用地", "Mining land"), ("1003", "盐田", "Salt pan"),
    ("1101", "物流仓储用地", "Logistics and storage land"), ("1102", "储备库用地", "Reserve depot land"),
    ("1201", "铁路用地", "Railway land"), ("1202", "公路用地", "Highway land"), ("1203", "机场用地", "Airport land"),
    ("1204", "港口码头用地", "Port and wharf land"), ("1205", "管道运输用地", "Pipeline transport land"),
    ("1206", "城市轨道交通用地", "Urban rail transit land"), ("1207", "城镇村道路用地", "Urban and village road land"),
    ("1208", "交通场站用地", "Transport station land"), ("1209", "其他交通设施用地", "Other transport facility land"),
    ("1301", "供水用地", "Water supply land"), ("1302", "排水用地", "Drainage land"), ("1303", "供电用地", "Power supply land"),
    ("1304", "供燃气用地", "Gas supply land"), ("1305", "供热用地", "Heat supply land"),
    ("1306", "通信用地", "Communications land"), ("1307", "邮政用地", "Postal land"),
    ("1308", "广播电视设施用地", "Broadcasting facility land"), ("1309", "环卫用地", "Sanitation land"),
    ("1310", "消防用地", "Fire service land"), ("1311", "干渠", "Main canal"), ("1312", "水工设施用地", "Hydraulic facility land"),
    ("1313", "其他公用设施用地", "Other public utility land"),
    ("1401", "公园绿地", "Park green space"), ("1402", "防护绿地", "Protective green space"), ("1403", "广场用地", "Square"),
    ("1501", "军事设施用地", "Military facilities land"), ("1502", "使领馆用地", "Embassy and consulate land"),
    ("1503", "宗教用地", "Religious land"), ("1504", "文物古迹用地", "Heritage site land"),
    ("1505", "监教场所用地", "Correctional facilities land"), ("1506", "殡葬用地", "Funeral land"),
    ("1507", "其他特殊用地", "Other special-use land"),
    ("1701", "河流水面", "River surface"), ("1702", "湖泊水面", "Lake surface"), ("1703", "水库水面", "Reservoir surface"),
    ("1704", "坑塘水面", "Pond surface"), ("1705", "沟渠", "Ditch"), ("1706", "冰川及常年积雪", "Glacier and permanent snow"),
    ("2301", "空闲地", "Vacant land"), ("2302", "田间道", "Field road"), ("2303", "盐碱地", "Saline-alkali land"),
    ("2304", "沙地", "Sandy land"), ("2305", "裸土地", "Bare soil"), ("2306", "裸岩石砾地", "Bare rock and gravel land"),
]  # fmt: skip

# GB/T 21010-2017 second-level class -> 2023 class.
CROSSWALK = {
    "0101": "0101", "0102": "0102", "0103": "0103",
    "0201": "0201", "0202": "0202", "0203": "0203", "0204": "0204",
    "0301": "0301", "0302": "0302", "0303": "0507", "0304": "0501", "0305": "0303", "0306": "0502", "0307": "0304",
    "0401": "0401", "0402": "0503", "0403": "0402", "0404": "0403",
    "0501": "0901", "0502": "0901", "0503": "0901", "0504": "0901", "0505": "0902", "0506": "0903", "0507": "0904",
    "0601": "1001", "0602": "1002", "0603": "1003", "0604": "1101",
    "0701": "0701", "0702": "0703",
    "0801": "0801", "0802": "0803", "0803": "0804", "0804": "0802", "0805": "0806", "0806": "0807",
    "0807": "0803", "0808": "0805", "0809": "13", "0810": "14",
    "0901": "1501", "0902": "1502", "0903": "1505", "0904": "1503", "0905": "1506", "0906": "1507",
    "1001": "1201", "1002": "1206", "1003": "1202", "1004": "1207", "1005": "1208", "1006": "0601",
    "1007": "1203", "1008": "1204", "1009": "1205",
    "1101": "1701", "1102": "1702", "1103": "1703", "1104": "1704", "1105": "0505", "1106": "0506",
    "1107": "1705", "1108": "0504", "1109": "1312", "1110": "1706",
    "1201": "2301", "1202": "0602", "1203": "0603", "1204": "2303", "1205": "2304", "1206": "2305", "1207": "2306",
}  # fmt: skip


def load(apps, schema_editor):
    PlannedUseClass = apps.get_model("gis_layers", "PlannedUseClass")
    LandUseCrosswalk = apps.get_model("gis_layers", "LandUseCrosswalk")
    parents = {}
    for code, name_zh, name_en in FIRST_LEVEL:
        parents[code], _ = PlannedUseClass.objects.update_or_create(
            code=code, defaults={"name_zh": name_zh, "name_en": name_en, "parent": None}
        )
    for code, name_zh, name_en in SECOND_LEVEL:
        PlannedUseClass.objects.update_or_create(
            code=code,
            defaults={"name_zh": name_zh, "name_en": name_en, "parent": parents[code[:2]]},
        )
    for current, planned in CROSSWALK.items():
        LandUseCrosswalk.objects.update_or_create(
            current_id=current, defaults={"planned_id": planned}
        )


def unload(apps, schema_editor):
    apps.get_model("gis_layers", "LandUseCrosswalk").objects.all().delete()
    PlannedUseClass = apps.get_model("gis_layers", "PlannedUseClass")
    PlannedUseClass.objects.filter(parent__isnull=False).delete()
    PlannedUseClass.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("gis_layers", "0007_planned_use_classes"),
        ("registry", "0002_land_use_classes"),
    ]
    operations = [migrations.RunPython(load, unload)]
