use crate::{Case, Failure};

pub(crate) fn check(_case: &Case) -> Result<(), Failure> {
    Err(Failure::NotImplemented(
        "Visa PVV and IBM 3624 (issue 3)".into(),
    ))
}
