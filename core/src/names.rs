//! Enumerations that AWS Payment Cryptography names in its API.

/// Declares a field-less enum whose variants carry the service's names, with `ALL`, `name`,
/// `from_name` (whose error names the field and lists the accepted names) and `Display`.
macro_rules! service_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($field:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every variant, in the service's order.
            pub const ALL: [Self; [$($text),+].len()] = [$(Self::$variant),+];

            /// The service's name.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// The variant by the service's name.
            pub fn from_name(name: &str) -> Result<Self, $crate::Error> {
                Self::ALL
                    .into_iter()
                    .find(|v| v.name() == name)
                    .ok_or($crate::Error::InvalidValue {
                        field: $field,
                        reason: concat!("expected one of:" $(, " ", $text)+),
                    })
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

pub(crate) use service_enum;
