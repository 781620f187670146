//! What a create needs besides CreateCase: the case language (the deployment's, checked with
//! DescribeSupportedLanguages), and AWS's refusal explained with the catalogue.

use support_commands::Error as SupportError;
use support_commands::{Lang, SupportApi};

use super::Support;

/// Sets the case's language to the deployment's unless the message named one, and checks it
/// with DescribeSupportedLanguages: where AWS does not handle the service and category in it,
/// the case is opened in English, and the refused language is returned for the reply. When the
/// check itself fails, the case is opened as configured (CreateCase has the last word).
pub(super) async fn choose_language(
    api: &Support,
    lang: Lang,
    configured: &str,
    case: &mut support_commands::NewCase,
) -> Option<String> {
    if !case.language_given {
        configured.clone_into(&mut case.language);
    }
    if case.language == "en" {
        return None;
    }
    let (Some(service), Some(category)) = (&case.service_code, &case.category_code) else {
        return None;
    };
    // Only codes of the catalogue are asked about (and cached): a typo fails at CreateCase and
    // is explained there.
    let known = api
        .service_index(super::execute::language_code(lang))
        .await
        .is_ok_and(|index| {
            index
                .services()
                .iter()
                .any(|s| s.code == *service && s.categories.iter().any(|c| c.code == *category))
        });
    if !known {
        return None;
    }
    match api
        .supported_languages(&case.issue_type, service, category)
        .await
    {
        Ok(languages) if !languages.contains(&case.language) => {
            Some(std::mem::replace(&mut case.language, "en".to_owned()))
        }
        Ok(_) => None,
        Err(err) => {
            tracing::warn!(error = %err, "cannot check the case language; creating as configured");
            None
        }
    }
}

/// A CreateCase parameter error explained with the catalogue (the closest service codes, or
/// the service's categories); as AWS said it when the catalogue cannot be read.
pub(super) async fn explain(
    api: &Support,
    lang: Lang,
    case: &support_commands::NewCase,
    err: SupportError,
) -> SupportError {
    if !matches!(err, SupportError::InvalidParameter(_)) {
        return err;
    }
    match api.service_index(super::execute::language_code(lang)).await {
        Ok(index) => err.explain_create(case, &index),
        Err(_) => err,
    }
}
