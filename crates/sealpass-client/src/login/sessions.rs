//! Where `sealpass login` keeps what the identity provider issued: one file, 0600, in the state
//! directory, one session a server, its access token refreshed shortly before it runs out (under
//! a lock, so two commands at once do not both spend a rotating refresh token).

use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use super::{LoginError, Provider, Tokens};
use crate::files::{self, FileError};
use sealpass_core::api::SignIn;

/// Largest sessions file read.
const MAX_FILE: usize = 256 * 1024;
/// How long a command waits for another one's refresh (or login, or logout) to finish: longer
/// than one exchange with the provider may take (30 s).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(45);
/// The sessions file's format.
const VERSION: u32 = 1;

/// One server's sign-in.
#[derive(Debug)]
pub struct Session {
    /// The server it is for (its base URL).
    pub server: String,
    /// The identity provider and client, as the server published them at sign-in.
    pub sign_in: SignIn,
    /// Where it is refreshed.
    pub token_endpoint: String,
    /// Where it is revoked, if the provider has such an endpoint.
    pub revocation_endpoint: Option<String>,
    /// Who signed in, as the server named them.
    pub name: String,
    /// The tokens.
    pub tokens: Tokens,
}

/// Every saved sign-in of this user.
#[derive(Debug, Default)]
pub struct Sessions {
    list: Vec<Session>,
}

/// A session as the file has it; wiped when dropped.
#[derive(Serialize, Deserialize)]
struct Stored {
    server: String,
    issuer: String,
    client_id: String,
    scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource: Option<String>,
    token_endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revocation_endpoint: Option<String>,
    name: String,
    access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_at: Option<i64>,
}

impl Drop for Stored {
    fn drop(&mut self) {
        self.access_token.zeroize();
        if let Some(r) = &mut self.refresh_token {
            r.zeroize();
        }
    }
}

#[derive(Serialize, Deserialize)]
struct File {
    version: u32,
    sessions: Vec<Stored>,
}

impl Sessions {
    /// The file: `$XDG_STATE_HOME/sealpass/logins.json`.
    pub fn path() -> Result<PathBuf, LoginError> {
        Sessions::file()
            .ok_or_else(|| LoginError::Local("no state directory ($XDG_STATE_HOME and $HOME are unset)".into()))
    }

    /// The file, if there is a state directory.
    fn file() -> Option<PathBuf> {
        files::state_dir().map(|d| d.join("logins.json"))
    }

    /// Where `server`'s session is in the list.
    fn position(&self, server: &str) -> Option<usize> {
        self.list.iter().position(|s| s.server == server.trim_end_matches('/'))
    }

    /// What is saved; nothing when there is no file.
    pub fn load() -> Result<Sessions, LoginError> {
        Sessions::load_from(&Sessions::path()?)
    }

    fn load_from(path: &std::path::Path) -> Result<Sessions, LoginError> {
        let path = path.to_owned();
        let bytes = match files::read_private(&path, MAX_FILE) {
            Ok(bytes) => bytes,
            Err(FileError::Io { cause, .. }) if cause.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Sessions::default());
            }
            Err(e) => return Err(LoginError::File(e)),
        };
        let file: File = serde_json::from_slice(&bytes).map_err(|_| {
            LoginError::File(FileError::Io {
                path: path.clone(),
                cause: std::io::Error::other("not a sessions file sealpass wrote; remove it and sign in again"),
            })
        })?;
        if file.version != VERSION {
            return Err(LoginError::Local(format!(
                "{} was written by another version of sealpass (format {}); sign in again with this one after \
                 removing it",
                path.display(),
                file.version
            )));
        }
        let list = file.sessions.iter().map(Session::from_stored).collect();
        Ok(Sessions { list })
    }

    /// Change what is saved with `change`, under the lock (a refresh, login or logout running
    /// at the same time is waited for, never overwritten); what `change` returns.
    pub fn update<T>(change: impl FnOnce(&mut Sessions) -> T) -> Result<T, LoginError> {
        let _lock = Lock::take()?;
        let mut sessions = Sessions::load()?;
        let out = change(&mut sessions);
        sessions.save()?;
        Ok(out)
    }

    /// Write them back (0600, atomically).
    pub fn save(&self) -> Result<PathBuf, LoginError> {
        let path = Sessions::path()?;
        let file = File { version: VERSION, sessions: self.list.iter().map(Session::to_stored).collect() };
        // Written into room made up front, so that no copy of the tokens is left unwiped behind.
        let mut text = zeroize::Zeroizing::new(Vec::with_capacity(MAX_FILE));
        serde_json::to_writer_pretty(&mut *text, &file).map_err(|e| LoginError::Local(e.to_string()))?;
        if text.len() > MAX_FILE {
            return Err(LoginError::Local("too many sign-ins to keep: sealpass logout from some".into()));
        }
        files::replace_private(&path, &text).map_err(LoginError::File)?;
        Ok(path)
    }

    /// The session for `server`.
    pub fn get(&self, server: &str) -> Option<&Session> {
        self.position(server).map(|at| &self.list[at])
    }

    /// Keep `session`, replacing the server's previous one.
    pub fn put(&mut self, session: Session) {
        self.list.retain(|s| s.server != session.server);
        self.list.push(session);
    }

    /// Forget `server`'s session, handing it back.
    pub fn remove(&mut self, server: &str) -> Option<Session> {
        let at = self.position(server)?;
        Some(self.list.remove(at))
    }

    /// An access token for `server` that is good for a while yet, refreshed first when it is
    /// about to run out; `None` when nobody signed in to `server` here. A sign-in the provider
    /// no longer refreshes is forgotten (`Expired`); one it cannot refresh just now is used as
    /// it is while it lasts.
    pub async fn access_token(server: &str) -> Result<Option<SecretString>, LoginError> {
        let Some(path) = Sessions::file() else { return Ok(None) };
        let quick = Sessions::load_from(&path)?;
        let Some(session) = quick.get(server) else { return Ok(None) };
        if session.fresh() {
            return Ok(Some(session.tokens.access_token.clone()));
        }
        // Under the lock, read again: another command may have refreshed it meanwhile. One that
        // cannot have the lock uses the token it has while it lasts.
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let _lock = match Lock::take() {
            Ok(lock) => lock,
            Err(_) if session.tokens.expires_at.is_some_and(|at| at > now + 10) => {
                return Ok(Some(session.tokens.access_token.clone()));
            }
            Err(e) => return Err(e),
        };
        let mut sessions = Sessions::load()?;
        let Some(at) = sessions.position(server) else {
            return Ok(None);
        };
        let session = &mut sessions.list[at];
        if session.fresh() {
            return Ok(Some(session.tokens.access_token.clone()));
        }
        let still_valid = session.tokens.expires_at.is_some_and(|at| at > now + 10);
        let Some(refresh) = session.tokens.refresh_token.clone() else {
            if still_valid {
                return Ok(Some(session.tokens.access_token.clone()));
            }
            sessions.list.remove(at);
            sessions.save()?;
            return Err(LoginError::Expired("your sign-in has expired: run sealpass login".into()));
        };
        match Provider::for_session(session)?.refresh(&refresh).await {
            Ok(tokens) => {
                session.tokens = tokens;
                let token = session.tokens.access_token.clone();
                sessions.save()?;
                Ok(Some(token))
            }
            Err(e @ LoginError::Expired(_)) => {
                sessions.list.remove(at);
                sessions.save()?;
                Err(e)
            }
            Err(_) if still_valid => Ok(Some(session.tokens.access_token.clone())),
            Err(e) => Err(e),
        }
    }
}

impl Session {
    /// Whether its access token is good for a while yet (or the provider did not say for how long).
    fn fresh(&self) -> bool {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let due = self.tokens.refresh_at.or(self.tokens.expires_at.map(|at| at - super::REFRESH_BEFORE));
        due.is_none_or(|at| now < at)
    }

    fn from_stored(s: &Stored) -> Session {
        Session {
            server: s.server.clone(),
            sign_in: SignIn {
                issuer: s.issuer.clone(),
                client_id: s.client_id.clone(),
                scope: s.scope.clone(),
                resource: s.resource.clone(),
            },
            token_endpoint: s.token_endpoint.clone(),
            revocation_endpoint: s.revocation_endpoint.clone(),
            name: s.name.clone(),
            tokens: Tokens {
                access_token: SecretString::from(s.access_token.as_str()),
                refresh_token: s.refresh_token.as_deref().map(SecretString::from),
                expires_at: s.expires_at,
                refresh_at: s.refresh_at,
            },
        }
    }

    fn to_stored(&self) -> Stored {
        Stored {
            server: self.server.clone(),
            issuer: self.sign_in.issuer.clone(),
            client_id: self.sign_in.client_id.clone(),
            scope: self.sign_in.scope.clone(),
            resource: self.sign_in.resource.clone(),
            token_endpoint: self.token_endpoint.clone(),
            revocation_endpoint: self.revocation_endpoint.clone(),
            name: self.name.clone(),
            access_token: self.tokens.access_token.expose_secret().to_owned(),
            refresh_token: self.tokens.refresh_token.as_ref().map(|r| r.expose_secret().to_owned()),
            expires_at: self.tokens.expires_at,
            refresh_at: self.tokens.refresh_at,
        }
    }
}

/// An exclusive lock on `logins.lock` next to the sessions file, held while it is changed.
struct Lock(std::fs::File);

impl Lock {
    /// Taken within [`LOCK_WAIT`] (a command stopped with ^Z while holding it must not hang
    /// every other one), else an error saying so.
    fn take() -> Result<Lock, LoginError> {
        let path = Sessions::path()?.with_file_name("logins.lock");
        let io = |cause| LoginError::File(FileError::Io { path: path.clone(), cause });
        files::parent_dir(&path).map_err(LoginError::File)?;
        let file =
            std::fs::OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(&path).map_err(io)?;
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => return Ok(Lock(file)),
                Err(rustix::io::Errno::WOULDBLOCK) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(rustix::io::Errno::WOULDBLOCK) => {
                    return Err(LoginError::Local(format!(
                        "another sealpass holds {} (a stopped command?); let it finish and try again",
                        path.display()
                    )));
                }
                Err(e) => return Err(io(e.into())),
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = rustix::fs::flock(&self.0, rustix::fs::FlockOperation::Unlock);
    }
}
