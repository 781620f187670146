//! Why AWS refused a case, in terms people can act on: the service code they meant, or the
//! service's categories.

use crate::error::Error;
use crate::lookup::ServiceIndex;
use crate::model::NewCase;

/// How many services an unknown service code is answered with.
const CLOSEST: usize = 3;

impl Error {
    /// Explains a CreateCase parameter error with the catalogue: a `serviceCode` that is not
    /// a service becomes [`Error::UnknownServiceCode`] with the closest codes from lookup, and
    /// a `categoryCode` that is not one of the service's becomes [`Error::UnknownCategoryCode`]
    /// with the service's categories. Any other error, or a case whose codes are both in the
    /// catalogue, is returned as it is.
    ///
    /// ```
    /// use support_commands::{catalogue, Error, NewCase, ServiceIndex, Severity};
    /// let index = ServiceIndex::new(catalogue());
    /// let case = NewCase::new("s", "b", Severity::Low).service("ec2", "other");
    /// let err = Error::InvalidParameter("invalid serviceCode".into()).explain_create(&case, &index);
    /// let Error::UnknownServiceCode { closest, .. } = &err else { panic!("{err:?}") };
    /// assert_eq!(closest[0].0, "amazon-elastic-compute-cloud-linux");
    /// ```
    #[must_use]
    pub fn explain_create(self, case: &NewCase, index: &ServiceIndex) -> Self {
        if !matches!(self, Self::InvalidParameter(_)) {
            return self;
        }
        let Some(code) = case.service_code.as_deref() else {
            return self;
        };
        let Some(service) = index.services().iter().find(|s| s.code == code) else {
            let closest = index
                .search(code, CLOSEST)
                .into_iter()
                .map(|m| (m.service.code.clone(), m.service.name.clone()))
                .collect();
            return Self::UnknownServiceCode {
                code: code.to_owned(),
                closest,
            };
        };
        match case.category_code.as_deref() {
            Some(category) if !service.categories.iter().any(|c| c.code == category) => {
                Self::UnknownCategoryCode {
                    service: service.code.clone(),
                    category: category.to_owned(),
                    valid: service
                        .categories
                        .iter()
                        .map(|c| (c.code.clone(), c.name.clone()))
                        .collect(),
                }
            }
            _ => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Lang, Severity, catalogue};

    fn explain(service: &str, category: &str) -> Error {
        let case = NewCase::new("s", "b", Severity::Low).service(service, category);
        Error::InvalidParameter("AWS's words".into())
            .explain_create(&case, &ServiceIndex::new(catalogue()))
    }

    #[test]
    fn an_unknown_service_code_is_answered_with_the_closest_codes_in_both_languages() {
        let err = explain("ec2", "other");
        let zh = err.chat_text(Lang::Zh);
        assert!(
            zh.starts_with("serviceCode「ec2」不是 AWS Support 的服务代码。最接近的服务代码："),
            "{zh}"
        );
        assert!(
            zh.contains("\n- amazon-elastic-compute-cloud-linux（"),
            "{zh}"
        );
        assert!(zh.contains("查找ServiceCode: ec2"), "{zh}");
        let en = err.chat_text(Lang::En);
        assert!(
            en.starts_with("`ec2` is not an AWS Support serviceCode. The closest codes:"),
            "{en}"
        );
        assert!(
            en.contains("\n- amazon-elastic-compute-cloud-linux (Amazon"),
            "{en}"
        );
        assert!(en.is_ascii(), "{en}");
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn a_service_code_nothing_resembles_points_to_the_lookup_command() {
        let err = explain("zzqqxx", "other");
        assert_eq!(
            err,
            Error::UnknownServiceCode {
                code: "zzqqxx".into(),
                closest: Vec::new()
            }
        );
        assert!(
            err.chat_text(Lang::Zh)
                .contains("请发送「查找ServiceCode: zzqqxx」")
        );
        let en = err.chat_text(Lang::En);
        assert!(en.contains("`lookup zzqqxx`") && en.is_ascii(), "{en}");
    }

    #[test]
    fn a_category_of_another_service_is_answered_with_the_services_categories() {
        let err = explain("amazon-elastic-compute-cloud-linux", "nope");
        let zh = err.chat_text(Lang::Zh);
        assert!(
            zh.starts_with("categoryCode「nope」不属于服务 amazon-elastic-compute-cloud-linux。它的 categoryCode 有："),
            "{zh}"
        );
        assert!(zh.contains("\n- instance-issue（"), "{zh}");
        let en = err.chat_text(Lang::En);
        assert!(en.starts_with("`nope` is not a categoryCode of amazon-elastic-compute-cloud-linux. Its categories:"), "{en}");
    }

    #[test]
    fn other_errors_and_valid_codes_are_left_as_aws_said() {
        let case = NewCase::new("s", "b", Severity::Low)
            .service("amazon-elastic-compute-cloud-linux", "instance-issue");
        let index = ServiceIndex::new(catalogue());
        let aws = Error::InvalidParameter("subject too long".into());
        assert_eq!(aws.clone().explain_create(&case, &index), aws);
        assert_eq!(Error::Timeout.explain_create(&case, &index), Error::Timeout);
    }
}
