//! The body of the `cms` fuzz target (T-34-10): a TR-34 token's CMS structures on their own
//! (`ContentInfo`, `SignedData`, the signed attributes, `EnvelopedData` in both forms, the
//! OAEP parameters and the content cipher), which `token::import` reaches only behind the
//! signature. No input may panic.

use payhsm_tr34::token::{Form, fuzzing};

/// Feeds `data` to the CMS decoders: as a whole token, and as the envelope of each form.
pub fn run(data: &[u8]) {
    let _ = fuzzing::signed_data(data);
    for form in Form::ALL {
        let _ = fuzzing::enveloped_data(form, data);
    }
}
