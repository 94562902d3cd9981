use crate::{Case, Failure};

pub(crate) fn check(_case: &Case) -> Result<(), Failure> {
    Err(Failure::NotImplemented("TR-31 key blocks (issue 2)".into()))
}
