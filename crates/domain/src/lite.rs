//! Oz API Lite error codes (spec §14): biometry `BPE-*` and liveness `LDE-*`, each with its HTTP status.
//! The body is `{"code": "...", "message": "..."}`.

/// Which Lite processor answered: the code prefix differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Processor {
    Biometry,
    Liveness,
}

/// A Lite error kind. The numeric part is shared by both processors where Oz defines both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiteErrorKind {
    /// 002001: invalid Content-Type of the HTTP request.
    InvalidContentType,
    /// 002002: invalid HTTP method.
    InvalidMethod,
    /// 002003: cannot read the biometric sample (image). Liveness has no 002003; it uses 002004.
    UnreadableSample,
    /// 002004: cannot read the biometric template (biometry) / cannot extract the sample (liveness).
    BadTemplateOrSample,
    /// 002005: invalid Content-Type (or missing/unknown name) of a multipart part.
    InvalidPart,
    /// 003001: cannot retrieve the biometric template.
    TemplateFailed,
    /// 003002: no face in the sample.
    NoFace,
    /// 003003: more than one face in the sample.
    ManyFaces,
    /// 001001: internal processor error.
    Internal,
    /// 001002: the models are not loaded ("TFSS error – call the health method").
    NotReady,
    /// Every inference slot and the wait queue are taken: 503 with `Retry-After`. Oz has no code of
    /// its own for this; the processor's internal-error code 001001 is used.
    Busy,
    /// `OZ_LITE_AUTH` is on and the request has no valid token: 401, code 002006 (an openoz
    /// extension: Oz's API Lite has no authentication).
    Unauthorized,
    /// No such route: 404, code 002002 (the request names nothing).
    NoRoute,
}

impl LiteErrorKind {
    /// The Oz code string for this kind on the given processor.
    #[must_use]
    pub fn code(self, processor: Processor) -> &'static str {
        use LiteErrorKind as K;
        match processor {
            Processor::Biometry => match self {
                K::InvalidContentType => "BPE-002001",
                K::InvalidMethod => "BPE-002002",
                K::UnreadableSample => "BPE-002003",
                K::BadTemplateOrSample => "BPE-002004",
                K::InvalidPart => "BPE-002005",
                K::TemplateFailed => "BPE-003001",
                K::NoFace => "BPE-003002",
                K::ManyFaces => "BPE-003003",
                K::Internal | K::Busy => "BPE-001001",
                K::NotReady => "BPE-001002",
                K::Unauthorized => "BPE-002006",
                K::NoRoute => "BPE-002002",
            },
            Processor::Liveness => match self {
                K::InvalidContentType => "LDE-002001",
                K::InvalidMethod => "LDE-002002",
                // Liveness defines one code for every "no usable biometric sample" case.
                K::UnreadableSample | K::BadTemplateOrSample | K::TemplateFailed | K::NoFace | K::ManyFaces => {
                    "LDE-002004"
                }
                K::InvalidPart => "LDE-002005",
                K::Internal | K::Busy => "LDE-001001",
                K::NotReady => "LDE-001002",
                K::Unauthorized => "LDE-002006",
                K::NoRoute => "LDE-002002",
            },
        }
    }

    /// HTTP status: 500 for internal errors, 400 for everything else (as Oz documents); 503, 401
    /// and 404 for the kinds Oz does not document.
    #[must_use]
    pub fn http_status(self) -> u16 {
        match self {
            LiteErrorKind::Internal => 500,
            LiteErrorKind::Busy => 503,
            LiteErrorKind::Unauthorized => 401,
            LiteErrorKind::NoRoute => 404,
            _ => 400,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_oz_tables() {
        use LiteErrorKind as K;
        assert_eq!(K::NoFace.code(Processor::Biometry), "BPE-003002");
        assert_eq!(K::ManyFaces.code(Processor::Biometry), "BPE-003003");
        assert_eq!(K::UnreadableSample.code(Processor::Biometry), "BPE-002003");
        assert_eq!(K::BadTemplateOrSample.code(Processor::Biometry), "BPE-002004");
        assert_eq!(K::InvalidContentType.code(Processor::Liveness), "LDE-002001");
        assert_eq!(K::NoFace.code(Processor::Liveness), "LDE-002004");
        assert_eq!(K::InvalidPart.code(Processor::Liveness), "LDE-002005");
        assert_eq!(K::Internal.http_status(), 500);
        assert_eq!(K::NoFace.http_status(), 400);
        assert_eq!(K::Busy.code(Processor::Liveness), "LDE-001001");
        assert_eq!(K::Busy.http_status(), 503);
        assert_eq!(K::Unauthorized.code(Processor::Biometry), "BPE-002006");
        assert_eq!(K::Unauthorized.http_status(), 401);
        assert_eq!(K::NoRoute.code(Processor::Liveness), "LDE-002002");
        assert_eq!(K::NoRoute.http_status(), 404);
    }
}
