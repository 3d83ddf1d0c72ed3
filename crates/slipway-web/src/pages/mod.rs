//! Server-rendered pages (askama templates in the repository's `templates/`), usable without JavaScript.

pub(crate) mod actions;
pub(crate) mod build;
pub(crate) mod dashboard;
pub(crate) mod login;
pub(crate) mod project;

use crate::auth::Caller;

/// What every page's header needs: who is signed in and the CSRF value for its forms.
pub(crate) struct Chrome {
    pub(crate) user: Option<String>,
    pub(crate) csrf: String,
}

impl Chrome {
    pub(crate) fn of(caller: &Caller) -> Chrome {
        Chrome { user: caller.name().map(str::to_string), csrf: caller.csrf().unwrap_or_default().to_string() }
    }
}
