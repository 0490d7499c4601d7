"""GB/T 21010-2017 Current land use classification (土地利用现状分类): 12 first-level and
73 second-level classes. The table is written out here, not imported, so that this migration
means the same thing forever."""

from django.db import migrations

FIRST_LEVEL = [
    ("01", "耕地", "Cultivated land"),
    ("02", "园地", "Garden land"),
    ("03", "林地", "Forest land"),
    ("04", "草地", "Grassland"),
    ("05", "商服用地", "Commercial and service land"),
    ("06", "工矿仓储用地", "Industrial, mining and storage land"),
    ("07", "住宅用地", "Residential land"),
    ("08", "公共管理与公共服务用地", "Public administration and public service land"),
    ("09", "特殊用地", "Special-use land"),
    ("10", "交通运输用地", "Transport land"),
    ("11", "水域及水利设施用地", "Water areas and water conservancy facilities"),
    ("12", "其他土地", "Other land"),
]

SECOND_LEVEL = [
    ("0101", "水田", "Paddy field"),
    ("0102", "水浇地", "Irrigated land"),
    ("0103", "旱地", "Dry land"),
    ("0201", "果园", "Orchard"),
    ("0202", "茶园", "Tea garden"),
    ("0203", "橡胶园", "Rubber plantation"),
    ("0204", "其他园地", "Other garden land"),
    ("0301", "乔木林地", "Arbor forest land"),
    ("0302", "竹林地", "Bamboo forest land"),
    ("0303", "红树林地", "Mangrove land"),
    ("0304", "森林沼泽", "Forest swamp"),
    ("0305", "灌木林地", "Shrub land"),
    ("0306", "灌丛沼泽", "Shrub swamp"),
    ("0307", "其他林地", "Other forest land"),
    ("0401", "天然牧草地", "Natural pasture"),
    ("0402", "沼泽草地", "Marsh grassland"),
    ("0403", "人工牧草地", "Artificial pasture"),
    ("0404", "其他草地", "Other grassland"),
    ("0501", "零售商业用地", "Retail land"),
    ("0502", "批发市场用地", "Wholesale market land"),
    ("0503", "餐饮用地", "Catering land"),
    ("0504", "旅馆用地", "Hotel land"),
    ("0505", "商务金融用地", "Business and finance land"),
    ("0506", "娱乐用地", "Entertainment land"),
    ("0507", "其他商服用地", "Other commercial and service land"),
    ("0601", "工业用地", "Industrial land"),
    ("0602", "采矿用地", "Mining land"),
    ("0603", "盐田", "Salt pan"),
    ("0604", "仓储用地", "Storage land"),
    ("0701", "城镇住宅用地", "Urban residential land"),
    ("0702", "农村宅基地", "Rural homestead"),
    ("0801", "机关团体用地", "Government agencies and public organisations"),
    ("0802", "新闻出版用地", "Press and publishing land"),
    ("0803", "教育用地", "Education land"),
    ("0804", "科研用地", "Scientific research land"),
    ("0805", "医疗卫生用地", "Medical and health land"),
    ("0806", "社会福利用地", "Social welfare land"),
    ("0807", "文化设施用地", "Cultural facilities land"),
    ("0808", "体育用地", "Sports land"),
    ("0809", "公用设施用地", "Public utilities land"),
    ("0810", "公园与绿地", "Parks and green space"),
    ("0901", "军事设施用地", "Military facilities land"),
    ("0902", "使领馆用地", "Embassy and consulate land"),
    ("0903", "监教场所用地", "Correctional facilities land"),
    ("0904", "宗教用地", "Religious land"),
    ("0905", "殡葬用地", "Funeral land"),
    ("0906", "风景名胜设施用地", "Scenic spot facilities land"),
    ("1001", "铁路用地", "Railway land"),
    ("1002", "轨道交通用地", "Rail transit land"),
    ("1003", "公路用地", "Highway land"),
    ("1004", "城镇村道路用地", "Urban and village road land"),
    ("1005", "交通服务场站用地", "Transport service station land"),
    ("1006", "农村道路", "Rural road"),
    ("1007", "机场用地", "Airport land"),
    ("1008", "港口码头用地", "Port and wharf land"),
    ("1009", "管道运输用地", "Pipeline transport land"),
    ("1101", "河流水面", "River surface"),
    ("1102", "湖泊水面", "Lake surface"),
    ("1103", "水库水面", "Reservoir surface"),
    ("1104", "坑塘水面", "Pond surface"),
    ("1105", "沿海滩涂", "Coastal tidal flat"),
    ("1106", "内陆滩涂", "Inland tidal flat"),
    ("1107", "沟渠", "Ditch and canal"),
    ("1108", "沼泽地", "Swamp"),
    ("1109", "水工建筑用地", "Hydraulic construction land"),
    ("1110", "冰川及永久积雪", "Glacier and permanent snow"),
    ("1201", "空闲地", "Vacant land"),
    ("1202", "设施农用地", "Agricultural facilities land"),
    ("1203", "田坎", "Field ridge"),
    ("1204", "盐碱地", "Saline-alkali land"),
    ("1205", "沙地", "Sandy land"),
    ("1206", "裸土地", "Bare soil"),
    ("1207", "裸岩石砾地", "Bare rock and gravel land"),
]


def load_classes(apps, schema_editor):
    LandUseClass = apps.get_model("registry", "LandUseClass")
    parents = {}
    for code, name_zh, name_en in FIRST_LEVEL:
        parents[code], _ = LandUseClass.objects.update_or_create(
            code=code, defaults={"name_zh": name_zh, "name_en": name_en, "parent": None}
        )
    for code, name_zh, name_en in SECOND_LEVEL:
        LandUseClass.objects.update_or_create(
            code=code,
            defaults={"name_zh": name_zh, "name_en": name_en, "parent": parents[code[:2]]},
        )


def unload_classes(apps, schema_editor):
    LandUseClass = apps.get_model("registry", "LandUseClass")
    LandUseClass.objects.filter(parent__isnull=False).delete()
    LandUseClass.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]
    operations = [migrations.RunPython(load_classes, unload_classes)]
