use crate::{Case, Failure};

pub(crate) fn check(_case: &Case) -> Result<(), Failure> {
    Err(Failure::NotImplemented(
        "TR-34 key transport (issue 5)".into(),
    ))
}
