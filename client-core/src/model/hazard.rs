//! Hazard categories (查风险) and grades (确定风险等级).

use super::code_enum;

code_enum!(
    /// The risk points of the campaign notice.
    HazardCategory {
        FireSafety = "fire_safety", "消防安全", "Fire safety";
        LabChemicals = "lab_chemicals", "实验室危化品", "Laboratory and hazardous chemicals";
        SchoolBus = "school_bus", "校车安全", "School bus";
        Buildings = "buildings", "校舍安全", "Buildings";
        FoodSafety = "food_safety", "食品安全", "Food safety";
        ViolenceBullying = "violence_bullying", "校园暴力欺凌", "Campus violence and bullying";
        TelecomFraud = "telecom_fraud", "电信网络诈骗", "Telecom fraud";
        Theft = "theft", "防盗窃", "Theft";
        CampusLoans = "campus_loans", "非法校园贷", "Illegal campus loans";
        Traffic = "traffic", "交通安全", "Traffic safety";
        PerimeterOrder = "perimeter_order", "校园周边治安", "Campus perimeter order";
        GateControl = "gate_control", "门卫查验/值班巡逻", "Gate control and patrols";
        MentalHealth = "mental_health", "心理危机", "Mental health and extreme incidents";
        Other = "other", "其他", "Other";
    }
);

code_enum!(
    /// The notice's six areas of campus safety (the home page groups open hazards by
    /// them), and "other" for what fits none.
    SafetyArea {
        Fire = "fire", "消防安全", "Fire safety";
        LabChemicals = "lab_chemicals", "实验室和危化品", "Laboratories and hazardous chemicals";
        SchoolBus = "school_bus", "校车安全", "School buses";
        Buildings = "buildings", "校舍安全", "Buildings";
        Food = "food", "食品安全", "Food safety";
        /// 校园治安: bullying, fraud, theft, campus loans, the perimeter and the gate.
        CampusSecurity = "campus_security", "校园治安", "Campus security";
        Other = "other", "其他", "Other";
    }
);

impl HazardCategory {
    /// The one mapping from a category to the notice's area (exhaustive: a new category
    /// must be given its area here).
    pub fn area(self) -> SafetyArea {
        match self {
            HazardCategory::FireSafety => SafetyArea::Fire,
            HazardCategory::LabChemicals => SafetyArea::LabChemicals,
            HazardCategory::SchoolBus => SafetyArea::SchoolBus,
            HazardCategory::Buildings => SafetyArea::Buildings,
            HazardCategory::FoodSafety => SafetyArea::Food,
            HazardCategory::ViolenceBullying
            | HazardCategory::TelecomFraud
            | HazardCategory::Theft
            | HazardCategory::CampusLoans
            | HazardCategory::PerimeterOrder
            | HazardCategory::GateControl => SafetyArea::CampusSecurity,
            HazardCategory::Traffic | HazardCategory::MentalHealth | HazardCategory::Other => {
                SafetyArea::Other
            }
        }
    }
}

code_enum!(
    /// The four-colour risk grade. Declared from lowest to highest, so `Ord` ranks them:
    /// when two people disagree, the higher grade stands (safety first).
    RiskGrade {
        /// 低风险, blue.
        Low = "low", "低风险", "Low";
        /// 一般风险, yellow.
        General = "general", "一般风险", "General";
        /// 较大风险, orange.
        Significant = "significant", "较大风险", "Significant";
        /// 重大风险, red.
        Major = "major", "重大风险", "Major";
    }
);

impl RiskGrade {
    /// The grade's colour, as the ledger shows it.
    pub fn colour(self) -> &'static str {
        match self {
            RiskGrade::Major => "red",
            RiskGrade::Significant => "orange",
            RiskGrade::General => "yellow",
            RiskGrade::Low => "blue",
        }
    }

    /// The hazard grade that goes with a risk grade: red is a major hazard 重大隐患.
    pub fn hazard_grade(self) -> HazardGrade {
        if self == RiskGrade::Major {
            HazardGrade::Major
        } else {
            HazardGrade::General
        }
    }
}

code_enum!(
    /// 重大隐患 / 一般隐患.
    HazardGrade {
        General = "general", "一般隐患", "General hazard";
        Major = "major", "重大隐患", "Major hazard";
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_grades_rank_major_highest() {
        assert!(RiskGrade::Major > RiskGrade::Significant);
        assert!(RiskGrade::Significant > RiskGrade::General);
        assert!(RiskGrade::General > RiskGrade::Low);
        assert_eq!(RiskGrade::Major.hazard_grade(), HazardGrade::Major);
        assert_eq!(RiskGrade::Significant.hazard_grade(), HazardGrade::General);
    }

    #[test]
    fn codes_round_trip_and_unknown_codes_are_refused() {
        for c in HazardCategory::ALL {
            assert_eq!(c.code().parse::<HazardCategory>().unwrap(), *c);
        }
        let err = "arson".parse::<HazardCategory>().unwrap_err();
        assert!(err.to_string().contains("fire_safety"), "{err}");
    }
}
