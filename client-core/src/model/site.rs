//! What is inspected.

use super::code_enum;

code_enum!(
    /// The kind of a site; decides which checklist template applies.
    SiteKind {
        Dorm = "dorm", "宿舍", "Dormitory";
        Laboratory = "laboratory", "实验室", "Laboratory";
        HazardousChemicalStore = "hazardous_chemical_store", "危化品仓库", "Hazardous-chemical store";
        Kitchen = "kitchen", "食堂后厨", "Kitchen / canteen";
        TeachingBuilding = "teaching_building", "教学楼/校舍", "Teaching building";
        EbikeParking = "ebike_parking", "电动车停放充电场所", "E-bike parking and charging";
        SchoolBus = "school_bus", "校车", "School bus";
        GatePerimeter = "gate_perimeter", "门卫/校园周边", "Gate and perimeter";
        Other = "other", "其他", "Other";
    }
);
