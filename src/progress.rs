//! Progress bars on stderr (indicatif), hidden when disabled or when stderr is not a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar counting bytes with rate and ETA.
pub fn bytes_bar(enabled: bool, total: u64, what: &str) -> ProgressBar {
    let bar = new_bar(enabled, total);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// A bar counting items (rows, files, windows).
pub fn count_bar(enabled: bool, total: u64, what: &str) -> ProgressBar {
    let bar = new_bar(enabled, total);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>12} [{bar:30}] {human_pos}/{human_len} {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// A spinner for work of unknown size.
pub fn spinner(enabled: bool, what: &str) -> ProgressBar {
    let bar = if enabled {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {human_pos} {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(what.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

fn new_bar(enabled: bool, total: u64) -> ProgressBar {
    if enabled {
        let b = ProgressBar::new(total);
        b.set_draw_target(ProgressDrawTarget::stderr());
        b
    } else {
        ProgressBar::hidden()
    }
}
