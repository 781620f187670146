//! The AWS partitions the Support API is called in.

/// Which AWS partition the Support API is called in.
///
/// ```
/// use support_commands::Partition;
/// assert_eq!(Partition::AwsCn.signing_region(), "cn-north-1");
/// assert_eq!(Partition::from_name("aws-cn"), Some(Partition::AwsCn));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[non_exhaustive]
pub enum Partition {
    /// Global AWS: `support.us-east-1.amazonaws.com`, signed for us-east-1.
    #[default]
    Aws,
    /// AWS China (Beijing and Ningxia): `support.cn-north-1.amazonaws.com.cn`.
    #[cfg_attr(feature = "clap", value(alias = "cn", alias = "china"))]
    AwsCn,
}

impl Partition {
    /// `aws` or `aws-cn`.
    ///
    /// ```
    /// assert_eq!(support_commands::Partition::from_name("aws"), Some(support_commands::Partition::Aws));
    /// ```
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "aws" => Some(Self::Aws),
            "aws-cn" | "cn" | "china" => Some(Self::AwsCn),
            _ => None,
        }
    }

    /// The region the Support client signs for: the endpoint rules send every region of the
    /// partition there, so the client is pinned to it.
    ///
    /// ```
    /// assert_eq!(support_commands::Partition::Aws.signing_region(), "us-east-1");
    /// ```
    #[must_use]
    pub fn signing_region(self) -> &'static str {
        match self {
            Self::Aws => "us-east-1",
            Self::AwsCn => "cn-north-1",
        }
    }
}
