//! Message numbers (draft-miller-ssh-agent §5.1 and OpenSSH's authfd.h) and the sign-request
//! flags. A leaf module: the signing code reads the flags without depending on the messages.

/// SSH-1 `SSH_AGENTC_REQUEST_RSA_IDENTITIES`.
pub const SSH1_REQUEST_RSA_IDENTITIES: u8 = 1;
/// SSH-1 `SSH_AGENTC_RSA_CHALLENGE`.
pub const SSH1_RSA_CHALLENGE: u8 = 3;
/// `SSH_AGENT_FAILURE`.
pub const FAILURE: u8 = 5;
/// `SSH_AGENT_SUCCESS`.
pub const SUCCESS: u8 = 6;
/// SSH-1 `SSH_AGENTC_ADD_RSA_IDENTITY`.
pub const SSH1_ADD_RSA_IDENTITY: u8 = 7;
/// SSH-1 `SSH_AGENTC_REMOVE_RSA_IDENTITY`.
pub const SSH1_REMOVE_RSA_IDENTITY: u8 = 8;
/// SSH-1 `SSH_AGENTC_REMOVE_ALL_RSA_IDENTITIES`.
pub const SSH1_REMOVE_ALL_RSA_IDENTITIES: u8 = 9;
/// `SSH_AGENTC_REQUEST_IDENTITIES`.
pub const REQUEST_IDENTITIES: u8 = 11;
/// `SSH_AGENT_IDENTITIES_ANSWER`.
pub const IDENTITIES_ANSWER: u8 = 12;
/// `SSH_AGENTC_SIGN_REQUEST`.
pub const SIGN_REQUEST: u8 = 13;
/// `SSH_AGENT_SIGN_RESPONSE`.
pub const SIGN_RESPONSE: u8 = 14;
/// `SSH_AGENTC_ADD_IDENTITY`.
pub const ADD_IDENTITY: u8 = 17;
/// `SSH_AGENTC_REMOVE_IDENTITY`.
pub const REMOVE_IDENTITY: u8 = 18;
/// `SSH_AGENTC_REMOVE_ALL_IDENTITIES`.
pub const REMOVE_ALL_IDENTITIES: u8 = 19;
/// `SSH_AGENTC_ADD_SMARTCARD_KEY`.
pub const ADD_SMARTCARD_KEY: u8 = 20;
/// `SSH_AGENTC_REMOVE_SMARTCARD_KEY`.
pub const REMOVE_SMARTCARD_KEY: u8 = 21;
/// `SSH_AGENTC_LOCK`.
pub const LOCK: u8 = 22;
/// `SSH_AGENTC_UNLOCK`.
pub const UNLOCK: u8 = 23;
/// SSH-1 `SSH_AGENTC_ADD_RSA_ID_CONSTRAINED`.
pub const SSH1_ADD_RSA_ID_CONSTRAINED: u8 = 24;
/// `SSH_AGENTC_ADD_ID_CONSTRAINED`.
pub const ADD_ID_CONSTRAINED: u8 = 25;
/// `SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED`.
pub const ADD_SMARTCARD_KEY_CONSTRAINED: u8 = 26;
/// `SSH_AGENTC_EXTENSION`.
pub const EXTENSION: u8 = 27;
/// `SSH_AGENT_EXTENSION_FAILURE`.
pub const EXTENSION_FAILURE: u8 = 28;
/// `SSH_AGENT_EXTENSION_RESPONSE`.
pub const EXTENSION_RESPONSE: u8 = 29;

/// True for the SSH-1 request numbers, which agentry never serves.
pub fn is_ssh1_request(t: u8) -> bool {
    matches!(
        t,
        SSH1_REQUEST_RSA_IDENTITIES
            | SSH1_RSA_CHALLENGE
            | SSH1_ADD_RSA_IDENTITY
            | SSH1_REMOVE_RSA_IDENTITY
            | SSH1_REMOVE_ALL_RSA_IDENTITIES
            | SSH1_ADD_RSA_ID_CONSTRAINED
    )
}

/// `SSH_AGENT_RSA_SHA2_256` sign flag.
pub const SIGN_FLAG_RSA_SHA2_256: u32 = 2;
/// `SSH_AGENT_RSA_SHA2_512` sign flag.
pub const SIGN_FLAG_RSA_SHA2_512: u32 = 4;
