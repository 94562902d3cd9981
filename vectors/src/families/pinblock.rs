use crate::{Case, Failure};

pub(crate) fn check(_case: &Case) -> Result<(), Failure> {
    Err(Failure::NotImplemented(
        "ISO 9564-1 PIN blocks (issue 3)".into(),
    ))
}
