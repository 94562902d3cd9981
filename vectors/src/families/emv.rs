use crate::{Case, Failure};

pub(crate) fn check(_case: &Case) -> Result<(), Failure> {
    Err(Failure::NotImplemented(
        "EMV issuer cryptography (issue 4)".into(),
    ))
}
