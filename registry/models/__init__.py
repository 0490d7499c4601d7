from registry.models.access import Clearance
from registry.models.parties import (
    Agency,
    AgencyLevel,
    Party,
    PartyKind,
    StaffEstablishment,
    StaffRank,
)
from registry.models.reference import District, LandUseClass
from registry.models.spatial import (
    Building,
    BuildingUse,
    Condition,
    Parcel,
    ProtectionClass,
    SecurityLevel,
    Shelter,
    ShelterType,
)

__all__ = [
    "Agency",
    "AgencyLevel",
    "Building",
    "BuildingUse",
    "Clearance",
    "Condition",
    "District",
    "LandUseClass",
    "Parcel",
    "Party",
    "PartyKind",
    "ProtectionClass",
    "SecurityLevel",
    "Shelter",
    "ShelterType",
    "StaffEstablishment",
    "StaffRank",
]
