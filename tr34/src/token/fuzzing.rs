//! The CMS structures of a token decoded on their own, for the fuzz targets (feature
//! `fuzzing`, off by default).
//!
//! [`import`](super::import) reads the signed attributes only to verify them and the envelope
//! only after the signature verifies, so random input never reaches those decoders through
//! it. These run every decoder `import` runs, in both forms, with no signature check and no
//! private-key operation; they decide nothing and return no key.

use super::{
    Form, asn1::SignedData, attributes::SignedAttributes, import, key_block::ContentCipher,
};
use crate::Error;

/// Decodes `ContentInfo` and its `SignedData`, the signed attributes of every signer and the
/// envelope in `eContent`, as each form reads them.
pub fn signed_data(der: &[u8]) -> Result<(), Error> {
    let signed: SignedData = import::signed_data(der)?;
    for form in Form::ALL {
        for signer in signed.signer_infos.iter() {
            let _ = SignedAttributes::from_der_contents(signer.signed_attrs.value(), form);
        }
        if let Some(content) = &signed.encap_content_info.e_content {
            let _ = enveloped_data(form, content.as_bytes());
        }
    }
    Ok(())
}

/// Decodes `content` as the envelope of a token in `form` (the `EnvelopedData`, or its
/// fields), then each recipient's key-encryption algorithm and the content cipher with its IV.
pub fn enveloped_data(form: Form, content: &[u8]) -> Result<(), Error> {
    let envelope = form.decode_envelope(content)?;
    for recipient in envelope.recipient_infos.iter() {
        let _ = form.parse_oaep(&recipient.key_encryption_algorithm, true);
    }
    ContentCipher::from_algorithm(&envelope.encrypted_content_info.content_encryption_algorithm)
        .map(|_| ())
}
