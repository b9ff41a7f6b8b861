//! Name material for invented people and companies, and the spelling variants used to plant
//! sanctions-list look-alikes. Common given and family names are facts, not anyone's prose.

use crate::rng::Rng;

pub const CN_FAMILY: &[&str] = &[
    "Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun", "Ma", "Zhu", "Hu", "Guo",
    "He", "Gao", "Lin", "Luo", "Zheng", "Liang", "Xie", "Song", "Tang", "Han", "Feng", "Deng", "Cao", "Peng", "Zeng",
    "Xiao", "Tian", "Dong", "Pan", "Yuan", "Cai", "Jiang", "Yu", "Du", "Ye", "Cheng", "Wei", "Su", "Lu", "Ding", "Ren",
    "Shen", "Yao", "Fan",
];

pub const CN_GIVEN: &[&str] = &[
    "Wei", "Fang", "Min", "Jing", "Li", "Qiang", "Lei", "Jun", "Yang", "Yong", "Yan", "Jie", "Juan", "Tao", "Ming",
    "Chao", "Xiuying", "Xia", "Ping", "Gang", "Hua", "Hui", "Xin", "Yu", "Hao", "Yi", "Ning", "Lin", "Bo", "Dan",
    "Tingting", "Haoran", "Zihan", "Yuxuan", "Xinyi", "Jiahao", "Yichen", "Shuang", "Kai", "Rui", "Peng", "Bin", "Lan",
    "Mei", "Qing", "Wen", "Zhiwei", "Xiaoming", "Jianguo", "Guiying",
];

pub const WESTERN_GIVEN: &[&str] = &[
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Sarah",
    "Thomas",
    "Emma",
    "Daniel",
    "Olivia",
    "Lukas",
    "Sophie",
    "Julien",
    "Camille",
    "Oliver",
    "Charlotte",
    "Jack",
    "Amelia",
    "Noah",
    "Isla",
    "Felix",
    "Hannah",
    "Louis",
    "Chloe",
];

pub const WESTERN_FAMILY: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Taylor",
    "Anderson",
    "Thomas",
    "Moore",
    "Martin",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Walker",
    "Young",
    "Muller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Dubois",
    "Bernard",
    "Moreau",
    "Laurent",
    "Lefebvre",
];

pub const HK_GIVEN: &[&str] = &[
    "Tai Man",
    "Siu Ming",
    "Ka Yan",
    "Wing Sze",
    "Chi Keung",
    "Mei Ling",
    "Kwok Wai",
    "Hoi Yan",
    "Chun Kit",
    "Wai Man",
];
pub const HK_FAMILY: &[&str] = &[
    "Chan", "Wong", "Lee", "Cheung", "Lau", "Ng", "Ho", "Leung", "Tsang", "Kwok", "Tan", "Lim", "Teo", "Goh", "Ong",
];

pub const CITIES: &[&str] = &[
    "Shanghai",
    "Beijing",
    "Shenzhen",
    "Guangzhou",
    "Hangzhou",
    "Chengdu",
    "Wuhan",
    "Nanjing",
    "Suzhou",
    "Tianjin",
    "Chongqing",
    "Xiamen",
    "Qingdao",
    "Kunming",
    "Xi'an",
];

pub const BRAND_WORDS: &[&str] = &[
    "Golden",
    "Bright",
    "Harmony",
    "Lucky",
    "Jade",
    "Dragon",
    "Lotus",
    "Silk Road",
    "Pearl",
    "Oriental",
    "Great Wall",
    "Phoenix",
    "Bamboo",
    "Summit",
    "Starlight",
    "Evergreen",
    "Riverside",
    "Peony",
    "Sunrise",
    "Cloud",
];

pub const TRADE_WORDS: &[&str] = &[
    "Trading",
    "Import and Export",
    "Supply Chain",
    "Technology",
    "Logistics",
    "Industrial",
    "Holdings",
    "Commerce",
];

/// A title-cased word ("ABD AL-AZIZ" -> "Abd Al-Aziz").
pub fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if c.is_alphabetic() {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            start = false;
        } else {
            out.push(c);
            start = true;
        }
    }
    out
}

/// An OFAC SDN name in natural order: "AWDA, Abd Al Aziz" -> "Abd Al Aziz Awda".
pub fn natural_order(sdn_name: &str) -> String {
    match sdn_name.split_once(", ") {
        Some((last, first)) => format!("{} {}", title_case(first.trim()), title_case(last.trim())),
        None => title_case(sdn_name.trim()),
    }
}

/// Kinds of spelling variant a sanctions hit is planted with.
pub const VARIANTS: &[&str] = &["exact", "transliteration", "typo", "reordered", "partial"];

// Transliteration pairs seen across romanisations of Arabic, Russian and Chinese names.
const TRANSLIT: &[(&str, &str)] = &[
    ("Mohammed", "Muhammad"),
    ("Mohammad", "Muhammad"),
    ("Muhammad", "Mohamed"),
    ("Abd Al ", "Abdul "),
    ("Abdul", "Abd Al"),
    ("Al-", "El "),
    ("Ou", "U"),
    ("ou", "u"),
    ("Yu", "Iu"),
    ("sh", "ch"),
    ("ei", "ay"),
    ("ie", "y"),
    ("ph", "f"),
    ("kh", "h"),
    ("y", "i"),
    ("ee", "i"),
];

/// A spelling variant of `name` of the given kind. Always differs from `name` except for
/// `exact`.
pub fn variant(name: &str, kind: &str, rng: &mut Rng) -> String {
    let tokens: Vec<&str> = name.split(' ').filter(|t| !t.is_empty()).collect();
    match kind {
        "transliteration" => {
            for (from, to) in TRANSLIT {
                if name.contains(from) {
                    return name.replacen(from, to, 1);
                }
            }
            typo(name, rng)
        }
        "typo" => typo(name, rng),
        "reordered" if tokens.len() >= 2 => {
            let mut t = tokens.clone();
            t.rotate_right(1);
            t.join(" ")
        }
        "partial" if tokens.len() >= 3 => {
            let mut t = tokens.clone();
            t.remove(1);
            t.join(" ")
        }
        "exact" => name.to_string(),
        _ => typo(name, rng),
    }
}

/// Swaps two adjacent letters inside the longest token, or doubles one when the swap would
/// change nothing.
fn typo(name: &str, rng: &mut Rng) -> String {
    let mut chars: Vec<char> = name.chars().collect();
    let candidates: Vec<usize> = (1..chars.len().saturating_sub(2))
        .filter(|&i| chars[i].is_alphabetic() && chars[i + 1].is_alphabetic() && chars[i] != chars[i + 1])
        .collect();
    if candidates.is_empty() {
        return format!("{name}e");
    }
    let i = *rng.pick(&candidates);
    chars.swap(i, i + 1);
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdn_names_turn_natural() {
        assert_eq!(natural_order("AWDA, Abd Al Aziz"), "Abd Al Aziz Awda");
        assert_eq!(natural_order("COBALT REFINERY CO. INC."), "Cobalt Refinery Co. Inc.");
    }

    #[test]
    fn variants_differ_from_the_original() {
        let mut rng = Rng::stream(1, "names", 0);
        for kind in VARIANTS.iter().filter(|k| **k != "exact") {
            for name in ["Abd Al Aziz Awda", "Chi Fu Chang", "Luis Raul Toledo Carrejo"] {
                assert_ne!(variant(name, kind, &mut rng), name, "{kind} of {name}");
            }
        }
    }
}
