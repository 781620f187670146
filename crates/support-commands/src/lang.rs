//! Reply language.

/// The language replies and help are written in.
///
/// ```
/// use support_commands::Lang;
/// assert_eq!(Lang::from_code("en"), Some(Lang::En));
/// assert_eq!(Lang::default(), Lang::Zh);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[non_exhaustive]
pub enum Lang {
    /// Chinese (the default for this audience).
    #[default]
    #[cfg_attr(feature = "clap", value(alias = "zh-cn", alias = "cn"))]
    Zh,
    /// English.
    #[cfg_attr(feature = "clap", value(alias = "en-us"))]
    En,
}

impl Lang {
    /// `zh` or `en` (case-insensitive).
    ///
    /// ```
    /// assert_eq!(support_commands::Lang::from_code("ZH"), Some(support_commands::Lang::Zh));
    /// ```
    #[must_use]
    pub fn from_code(code: &str) -> Option<Self> {
        match code.trim().to_ascii_lowercase().as_str() {
            "zh" | "zh-cn" | "cn" => Some(Self::Zh),
            "en" | "en-us" => Some(Self::En),
            _ => None,
        }
    }

    /// Picks the Chinese or the English text.
    ///
    /// ```
    /// assert_eq!(support_commands::Lang::En.pick("中", "en"), "en");
    /// ```
    #[must_use]
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Self::Zh => zh,
            Self::En => en,
        }
    }
}
