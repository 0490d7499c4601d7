"""Office space: space blocks in buildings, the blocks each use allocation covers, the
versioned office-space standards (seeded with the 2014 standard in force and the 1999 one
kept for history), the agencies' own space records, the premises' classification, and the
use-allocation act.

Guards in SQL: history of the new register tables; at commit, no block is listed by two
current use allocations, and a use allocation lists only blocks of its own building.
"""

import django.db.models.deletion
import django.db.models.functions.datetime
from django.db import migrations, models


# 党政机关办公用房建设标准: office-room use area per person (m²), central agencies.
STANDARDS = [
    {
        "name": "党政机关办公用房建设标准 (发改投资〔2014〕2674号)",
        "year": 2014,
        "in_force": True,
        "use_coefficient": 0.65,
        "note": "In force. Coefficient: use area per m² of gross floor area of basic office "
        "space, as practised in existing systems; configurable.",
        "caps": {
            "minister": 54,
            "vice_minister": 42,
            "director_general": 24,
            "deputy_director_general": 18,
            "division": 12,
            "below_division": 9,
        },
    },
    {
        "name": "党政机关办公用房建设标准 (计投资〔1999〕2250号)",
        "year": 1999,
        "in_force": False,
        "use_coefficient": 0.65,
        "note": "Superseded by the 2014 standard; kept for history only, never used in a "
        "computation while another standard is in force.",
        "caps": {
            "minister": 54,
            "vice_minister": 42,
            "director_general": 24,
            "deputy_director_general": 18,
            "division": 9,
            "below_division": 6,
        },
    },
]


def seed_standards(apps, schema_editor):
    Standard = apps.get_model("registry", "OfficeSpaceStandard")
    Cap = apps.get_model("registry", "OfficeSpaceCap")
    for spec in STANDARDS:
        standard, _ = Standard.objects.get_or_create(
            name=spec["name"],
            year=spec["year"],
            defaults={
                "in_force": spec["in_force"],
                "use_coefficient": spec["use_coefficient"],
                "note": spec["note"],
            },
        )
        for rank, cap in spec["caps"].items():
            Cap.objects.get_or_create(
                standard=standard, rank=rank, defaults={"cap_m2_per_person": cap}
            )


HISTORY_TABLES = ["registry_spaceblock", "registry_allocatedblock", "registry_agencyspacerecord"]

GUARDS = """
CREATE FUNCTION landledger_assert_block_allocations(checked_right bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    clash record;
BEGIN
    -- A block of another building.
    SELECT b.label, b.building_id, t.building_id AS title_building INTO clash
      FROM registry_allocatedblock ab
      JOIN registry_spaceblock b ON b.id = ab.block_id
      JOIN registry_right r ON r.id = ab.right_id
      JOIN registry_title t ON t.id = r.title_id
     WHERE ab.right_id = checked_right AND t.building_id IS DISTINCT FROM b.building_id
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'right % lists block % of building %, not of its own building %',
            checked_right, clash.label, clash.building_id, clash.title_building
            USING ERRCODE = 'check_violation';
    END IF;
    -- A block in two current use allocations.
    SELECT b.label, other.right_id INTO clash
      FROM registry_allocatedblock mine
      JOIN registry_right r ON r.id = mine.right_id
      JOIN registry_allocatedblock other ON other.block_id = mine.block_id
                                        AND other.right_id <> mine.right_id
      JOIN registry_right o ON o.id = other.right_id
      JOIN registry_spaceblock b ON b.id = mine.block_id
     WHERE mine.right_id = checked_right AND r.valid_to IS NULL AND o.valid_to IS NULL
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'block % is already allocated by current right %', clash.label,
            clash.right_id USING ERRCODE = 'exclusion_violation';
    END IF;
END $$;

CREATE FUNCTION landledger_check_block_allocation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM landledger_assert_block_allocations(NEW.right_id);
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER registry_allocatedblock_once_current
AFTER INSERT OR UPDATE ON registry_allocatedblock
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
EXECUTE FUNCTION landledger_check_block_allocation();
"""

DROP_GUARDS = """
DROP TRIGGER registry_allocatedblock_once_current ON registry_allocatedblock;
DROP FUNCTION landledger_check_block_allocation();
DROP FUNCTION landledger_assert_block_allocations(bigint);
"""


def history_triggers() -> str:
    return "\n".join(
        f"CREATE TRIGGER {table}_history AFTER INSERT OR UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION landledger_record_history('id');"
        for table in HISTORY_TABLES
    )


def drop_history_triggers() -> str:
    return "\n".join(f"DROP TRIGGER {table}_history ON {table};" for table in HISTORY_TABLES)


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0004_register_guards'),
    ]

    operations = [
        migrations.AddField(
            model_name='building',
            name='premises_classification',
            field=models.PositiveSmallIntegerField(choices=[(0, 'public 公开'), (1, 'internal 内部'), (2, 'secret 秘密'), (3, 'confidential 机密')], db_default=0, default=0, help_text='Classification of the premises: only agencies cleared to it may be housed here. It says who may occupy the building, not who may see it.'),
        ),
        migrations.AlterField(
            model_name='registrationact',
            name='act_type',
            field=models.CharField(choices=[('first', 'first registration 首次登记'), ('change', 'change 变更登记'), ('transfer', 'transfer 转移登记'), ('cancellation', 'cancellation 注销登记'), ('correction', 'correction 更正登记'), ('objection', 'objection 异议登记'), ('advance_notice', 'advance notice 预告登记'), ('seizure', 'seizure 查封登记'), ('split', 'parcel split 分宗'), ('merge', 'parcel merge 合宗'), ('allocation', 'use allocation 使用调配')], max_length=20),
        ),
        migrations.CreateModel(
            name='OfficeSpaceStandard',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=120)),
                ('year', models.PositiveSmallIntegerField()),
                ('in_force', models.BooleanField(default=False)),
                ('use_coefficient', models.FloatField(help_text='Use area per m² of gross floor area for basic office space (e.g. 0.65).')),
                ('note', models.TextField(blank=True)),
            ],
            options={
                'ordering': ['-year', 'name'],
                'permissions': [('view_space_analysis', 'Can see office-space figures and the redistribution plan')],
                'constraints': [models.UniqueConstraint(fields=('name', 'year'), name='officestandard_unique'), models.UniqueConstraint(condition=models.Q(('in_force', True)), fields=('in_force',), name='officestandard_one_in_force', violation_error_message='Only one office-space standard can be in force.'), models.CheckConstraint(condition=models.Q(('use_coefficient__gt', 0), ('use_coefficient__lte', 1)), name='officestandard_coefficient_range', violation_error_message='The coefficient is a share: above 0, at most 1.')],
            },
        ),
        migrations.CreateModel(
            name='SpaceBlock',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('source', models.CharField(blank=True, help_text="Dataset and feature id, e.g. 'OSM way 123'.", max_length=200)),
                ('is_synthetic', models.BooleanField(default=False, help_text='Generated for the demo: not observed in any real dataset.')),
                ('valid_from', models.DateField(help_text='First day the unit legally exists.')),
                ('valid_to', models.DateField(blank=True, help_text='First day it no longer exists (retired); empty if current.', null=True)),
                ('recorded_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now(), editable=False)),
                ('label', models.CharField(help_text="Room or block number, e.g. '3F-301'.", max_length=40)),
                ('floor', models.SmallIntegerField(help_text='Floor; negative below ground.')),
                ('kind', models.CharField(choices=[('office', 'office room 办公室用房'), ('service', 'service 服务用房'), ('equipment', 'equipment 设备用房'), ('ancillary', 'ancillary 附属用房'), ('civil_defence', 'ancillary: civil-defence space 附属用房（人防）')], max_length=16)),
                ('area_m2', models.FloatField(blank=True, help_text='Empty when not surveyed.', null=True)),
                ('area_basis', models.CharField(choices=[('use', 'use area 使用面积'), ('gross', 'gross floor area 建筑面积')], default='use', max_length=8)),
                ('building', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='space_blocks', to='registry.building')),
            ],
            options={
                'ordering': ['building', 'floor', 'label'],
            },
        ),
        migrations.CreateModel(
            name='AllocatedBlock',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('right', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='allocated_blocks', to='registry.right')),
                ('block', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='allocations', to='registry.spaceblock')),
            ],
            options={
                'ordering': ['right', 'block'],
            },
        ),
        migrations.CreateModel(
            name='AgencySpaceRecord',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('source', models.CharField(blank=True, help_text="Dataset and feature id, e.g. 'OSM way 123'.", max_length=200)),
                ('is_synthetic', models.BooleanField(default=False, help_text='Generated for the demo: not observed in any real dataset.')),
                ('area_m2', models.FloatField()),
                ('recorded_on', models.DateField()),
                ('agency', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='space_records', to='registry.agency')),
                ('building', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='agency_space_records', to='registry.building')),
            ],
            options={
                'ordering': ['agency', 'building'],
                'constraints': [models.UniqueConstraint(fields=('agency', 'building', 'recorded_on'), name='agencyspacerecord_unique'), models.CheckConstraint(condition=models.Q(('area_m2__gte', 0)), name='agencyspacerecord_area')],
            },
        ),
        migrations.CreateModel(
            name='OfficeSpaceCap',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('rank', models.CharField(choices=[('minister', 'minister 正部级'), ('vice_minister', 'vice-minister 副部级'), ('director_general', 'director-general 正司局级'), ('deputy_director_general', 'deputy director-general 副司局级'), ('division', 'division 处级'), ('below_division', 'below division 处级以下')], max_length=32)),
                ('cap_m2_per_person', models.FloatField()),
                ('standard', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='caps', to='registry.officespacestandard')),
            ],
            options={
                'ordering': ['standard', '-cap_m2_per_person'],
                'constraints': [models.UniqueConstraint(fields=('standard', 'rank'), name='officecap_one_per_rank'), models.CheckConstraint(condition=models.Q(('cap_m2_per_person__gt', 0)), name='officecap_positive')],
            },
        ),
        migrations.AddConstraint(
            model_name='spaceblock',
            constraint=models.UniqueConstraint(fields=('building', 'label'), name='spaceblock_label_unique'),
        ),
        migrations.AddConstraint(
            model_name='spaceblock',
            constraint=models.CheckConstraint(condition=models.Q(('area_m2__isnull', True), ('area_m2__gt', 0), _connector='OR'), name='spaceblock_area_positive', violation_error_message='area_m2 must be positive (or empty if not surveyed).'),
        ),
        migrations.AddConstraint(
            model_name='spaceblock',
            constraint=models.CheckConstraint(condition=models.Q(('floor__range', (-10, 200))), name='spaceblock_floor_plausible'),
        ),
        migrations.AddConstraint(
            model_name='spaceblock',
            constraint=models.CheckConstraint(condition=models.Q(('valid_to__isnull', True), ('valid_to__gt', models.F('valid_from')), _connector='OR'), name='spaceblock_interval_ordered'),
        ),
        migrations.AddConstraint(
            model_name='allocatedblock',
            constraint=models.UniqueConstraint(fields=('right', 'block'), name='allocatedblock_once'),
        ),
        # Reversing drops the tables, rows and all.
        migrations.RunPython(seed_standards, migrations.RunPython.noop),
        migrations.RunSQL(history_triggers() + GUARDS, DROP_GUARDS + drop_history_triggers()),
    ]
