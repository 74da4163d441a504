//! A realistic synthetic ComCat catalogue, for the offline demo and for benchmarks.
//!
//! [`synthesize`] writes a CSV shaped exactly like a ComCat FDSN `format=csv` answer for
//! Southern California (`ci` network), in time order, from a seeded generator: the same
//! [`SynthOptions`] always give byte-identical output.
//!
//! The catalogue is built by a streaming point process, so memory does not grow with
//! the number of events:
//! * **Background events** arrive as the order statistics of uniform times: given the
//!   current time `t` and `r` background events still expected (the events left,
//!   less the aftershocks already scheduled and the share still to come), the next one
//!   is the minimum of `r` uniform times on `(t, end]`. This spreads the requested
//!   number of events evenly over the whole range, generated forwards in time; the
//!   count is exact because the generator stops after `events` rows.
//! * **Aftershocks**: every earthquake of magnitude >= [`MAINSHOCK_MIN`] schedules a
//!   burst of aftershocks (productivity growing as `10^(m - Mc)`, modified-Omori times,
//!   smaller magnitudes, near the mainshock along its fault strike). Scheduled
//!   aftershocks wait in a bounded priority queue and are merged with the background
//!   stream by time; each scheduled aftershock uses up one of the remaining events.
//!
//! Event properties follow the real catalogue: Gutenberg-Richter magnitudes (b = 1,
//! Mc = 1, truncated at 7.5), epicentres clustered around fault-like zones inside the
//! box lat 32..36, lon -120..-114 plus a few percent of events slightly outside it,
//! depths mostly 0-20 km with occasional negative values, daytime shallow
//! `quarry blast` and `explosion` events, optional fields sometimes empty.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write as _;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The 22 columns of a current ComCat CSV, in order.
pub const COMCAT_COLUMNS_22: [&str; 22] = [
    "time",
    "latitude",
    "longitude",
    "depth",
    "mag",
    "magType",
    "nst",
    "gap",
    "dmin",
    "rms",
    "net",
    "id",
    "updated",
    "place",
    "type",
    "horizontalError",
    "depthError",
    "magError",
    "magNst",
    "status",
    "locationSource",
    "magSource",
];

/// Number of columns of the legacy layout (`time` .. `type`).
pub const LEGACY_COLUMNS: usize = 15;

/// The study region `[min_lat, max_lat, min_lon, max_lon]` the catalogue is built for.
pub const REGION: [f64; 4] = [32.0, 36.0, -120.0, -114.0];

/// The slightly larger box background events outside [`REGION`] are drawn from.
const OUTER_REGION: [f64; 4] = [31.5, 36.5, -120.5, -113.5];

/// Magnitude of completeness: the smallest magnitude generated.
pub const MC: f64 = 1.0;
/// Gutenberg-Richter b-value.
pub const B_VALUE: f64 = 1.0;
/// Largest magnitude generated.
pub const M_MAX: f64 = 7.5;
/// Earthquakes at least this large trigger aftershocks.
pub const MAINSHOCK_MIN: f64 = 3.0;
/// Expected aftershocks of a magnitude-`Mc` event (scaled by `10^(m - Mc)`).
const PRODUCTIVITY: f64 = 0.05;
/// Omori `c`, in days.
const OMORI_C_DAYS: f64 = 0.01;
/// Omori `p`.
const OMORI_P: f64 = 1.1;
/// Aftershocks are scheduled at most this long after their mainshock, in days.
const OMORI_MAX_DAYS: f64 = 180.0;
/// Prior guess of the share of aftershocks among all events.
const PRIOR_AFTERSHOCK_SHARE: f64 = 0.3;
/// Weight of that guess, in events.
const PRIOR_WEIGHT: f64 = 1_000.0;
/// Most aftershocks one mainshock schedules.
const MAX_SEQUENCE: usize = 2_000;
/// Most aftershocks waiting at any time (bounds memory).
const QUEUE_CAPACITY: usize = 4_096;
/// Largest catalogue that keeps 8-digit event ids unique.
pub const MAX_EVENTS: usize = 20_000_000;

/// Share of background events drawn slightly outside [`REGION`].
const OUTSIDE_SHARE: f64 = 0.03;
/// Share of background events scattered uniformly over [`REGION`].
const DIFFUSE_SHARE: f64 = 0.07;
/// Chance that a daytime background event is a quarry blast (about 2% of all events).
const QUARRY_DAYTIME_CHANCE: f64 = 0.076;
/// Chance that a daytime background event is an explosion (about 0.5% of all events).
const EXPLOSION_DAYTIME_CHANCE: f64 = 0.019;
/// Chance that an event has no magnitude.
const EMPTY_MAG_CHANCE: f64 = 0.002;
/// Chance that each optional field is empty.
const EMPTY_FIELD_CHANCE: f64 = 0.10;
/// Chance that an event is still `automatic` (not reviewed).
const AUTOMATIC_CHANCE: f64 = 0.05;
/// Kilometres per degree of latitude.
const KM_PER_DEGREE: f64 = 111.2;
/// Milliseconds per day.
const MS_PER_DAY: f64 = 86_400_000.0;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// Seed of the random generator.
    pub seed: u64,
    /// First year (from January 1st, 00:00:00 UTC).
    pub start_year: i32,
    /// Last year, inclusive (up to December 31st, 23:59:59 UTC).
    pub end_year: i32,
    /// Exact number of events (rows).
    pub events: usize,
    /// Which columns to write.
    pub layout: CsvLayout,
}

impl Default for SynthOptions {
    fn default() -> Self {
        Self {
            seed: 42,
            start_year: 2000,
            end_year: 2023,
            events: 100_000,
            layout: CsvLayout::Current22,
        }
    }
}

/// Column layout of the generated CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvLayout {
    /// All 22 columns of today's ComCat ([`COMCAT_COLUMNS_22`]).
    Current22,
    /// The first 15 columns only (`time` .. `type`), as older exports had.
    Legacy15,
}

impl CsvLayout {
    /// The header of this layout.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            CsvLayout::Current22 => &COMCAT_COLUMNS_22,
            CsvLayout::Legacy15 => &COMCAT_COLUMNS_22[..LEGACY_COLUMNS],
        }
    }
}

/// Counts over the generated catalogue.
#[derive(Debug, Clone, Default)]
pub struct SynthStats {
    /// Rows written.
    pub events: u64,
    /// Rows of type `quarry blast`.
    pub quarry_blasts: u64,
    /// Rows of type `explosion`.
    pub explosions: u64,
    /// Rows whose epicentre lies outside [`REGION`].
    pub outside_region: u64,
    /// Empty values written (over all rows and written columns).
    pub empty_fields: u64,
}

/// Writes a synthetic catalogue of `opts.events` rows (plus header) to `out`.
pub fn synthesize(opts: &SynthOptions, out: impl std::io::Write) -> Result<SynthStats> {
    let (start_ms, end_ms) = time_range(opts)?;
    if opts.events > MAX_EVENTS {
        bail!(
            "at most {MAX_EVENTS} synthetic events are supported (asked for {})",
            opts.events
        );
    }
    let columns = opts.layout.columns();
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(columns).context("writing CSV header")?;

    let mut generator = Generator::new(opts, start_ms, end_ms);
    let mut row = Row::default();
    let mut stats = SynthStats::default();
    for _ in 0..opts.events {
        let event = generator.next_event();
        row.fill(&event, &mut generator.rng);
        writer
            .write_record(&row.fields[..columns.len()])
            .context("writing CSV row")?;
        stats.count(&event, &row.fields[..columns.len()]);
    }
    writer.flush().context("flushing CSV output")?;
    Ok(stats)
}

impl SynthStats {
    /// Accounts for one written row.
    fn count(&mut self, event: &Event, fields: &[String]) {
        self.events += 1;
        match event.kind {
            EventKind::QuarryBlast => self.quarry_blasts += 1,
            EventKind::Explosion => self.explosions += 1,
            EventKind::Earthquake => {}
        }
        if !in_box(REGION, event.lat, event.lon) {
            self.outside_region += 1;
        }
        self.empty_fields += fields.iter().filter(|f| f.is_empty()).count() as u64;
    }
}

/// `[start, end]` in Unix milliseconds: Jan 1st of `start_year` to Dec 31st 23:59:59 of
/// `end_year`.
fn time_range(opts: &SynthOptions) -> Result<(i64, i64)> {
    if opts.start_year > opts.end_year {
        bail!(
            "start year {} is after end year {}",
            opts.start_year,
            opts.end_year
        );
    }
    let start = NaiveDate::from_ymd_opt(opts.start_year, 1, 1)
        .with_context(|| format!("year {} is out of range", opts.start_year))?;
    let end = NaiveDate::from_ymd_opt(opts.end_year, 12, 31)
        .with_context(|| format!("year {} is out of range", opts.end_year))?;
    let last_second = NaiveTime::from_hms_opt(23, 59, 59).context("valid time")?;
    Ok((
        start.and_time(NaiveTime::MIN).and_utc().timestamp_millis(),
        end.and_time(last_second).and_utc().timestamp_millis(),
    ))
}

/// What kind of source an event is (ComCat's `type` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventKind {
    Earthquake,
    QuarryBlast,
    Explosion,
}

impl EventKind {
    /// The `type` value.
    fn label(self) -> &'static str {
        match self {
            EventKind::Earthquake => "earthquake",
            EventKind::QuarryBlast => "quarry blast",
            EventKind::Explosion => "explosion",
        }
    }
}

/// One generated event, before formatting.
#[derive(Debug, Clone)]
struct Event {
    /// Origin time, Unix milliseconds.
    time_ms: i64,
    lat: f64,
    lon: f64,
    /// Depth in km (negative: above sea level).
    depth: f64,
    /// Magnitude (always set; blanked when formatting ~0.2% of rows).
    mag: f64,
    kind: EventKind,
}

impl Event {
    /// The event at the precision it is written with (4 decimals for coordinates,
    /// 2 for depth and magnitude), so that statistics and triggering see what the CSV
    /// says.
    fn rounded(self) -> Self {
        // `+ 0.0` turns -0.0 into 0.0, so nothing prints as "-0.00".
        let round = |x: f64, scale: f64| (x * scale).round() / scale + 0.0;
        Self {
            lat: round(self.lat, 1e4),
            lon: round(self.lon, 1e4),
            depth: round(self.depth, 1e2),
            mag: round(self.mag, 1e2),
            ..self
        }
    }
}

/// An aftershock scheduled by a mainshock, waiting for its time.
#[derive(Debug, Clone)]
struct Scheduled {
    time_ms: i64,
    /// Insertion counter: a total, deterministic order for equal times.
    seq: u64,
    lat: f64,
    lon: f64,
    depth: f64,
    /// Fault strike of the mainshock, degrees clockwise from north.
    strike: f64,
    /// Rupture length of the mainshock, km.
    length_km: f64,
    /// Mainshock magnitude (aftershocks stay below it).
    main_mag: f64,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.time_ms, self.seq).cmp(&(other.time_ms, other.seq))
    }
}

/// A seismic zone: a Gaussian cloud elongated along a fault strike.
struct Cluster {
    lat: f64,
    lon: f64,
    /// Degrees clockwise from north.
    strike: f64,
    /// Standard deviation along strike, km.
    along_km: f64,
    /// Standard deviation across strike, km.
    across_km: f64,
    /// Relative share of clustered events.
    weight: f64,
}

/// Shorthand constructor for the [`CLUSTERS`] table.
const fn zone(
    lat: f64,
    lon: f64,
    strike: f64,
    along_km: f64,
    across_km: f64,
    weight: f64,
) -> Cluster {
    Cluster {
        lat,
        lon,
        strike,
        along_km,
        across_km,
        weight,
    }
}

/// Southern California seismic zones (roughly where the real catalogue is dense).
const CLUSTERS: [Cluster; 15] = [
    zone(35.70, -117.55, 320.0, 15.0, 3.0, 12.0), // Ridgecrest
    zone(35.93, -117.78, 340.0, 6.0, 3.0, 6.0),   // Coso
    zone(33.05, -115.55, 330.0, 15.0, 4.0, 12.0), // Brawley seismic zone
    zone(32.55, -115.35, 320.0, 20.0, 4.0, 6.0),  // Imperial fault
    zone(33.50, -116.55, 315.0, 20.0, 3.0, 10.0), // San Jacinto, Anza
    zone(33.15, -116.20, 310.0, 10.0, 3.0, 5.0),  // Borrego, Ocotillo Wells
    zone(34.25, -116.45, 340.0, 20.0, 3.0, 6.0),  // Landers
    zone(34.60, -116.30, 330.0, 12.0, 3.0, 4.0),  // Hector Mine
    zone(34.22, -116.85, 30.0, 8.0, 4.0, 4.0),    // Big Bear
    zone(34.25, -118.55, 290.0, 10.0, 5.0, 5.0),  // Northridge
    zone(33.95, -118.05, 300.0, 15.0, 6.0, 4.0),  // Los Angeles basin
    zone(35.10, -118.95, 50.0, 15.0, 4.0, 5.0),   // White Wolf, Kern County
    zone(34.20, -119.70, 280.0, 20.0, 6.0, 3.0),  // Santa Barbara Channel
    zone(33.70, -117.30, 315.0, 15.0, 4.0, 3.0),  // Elsinore
    zone(32.35, -115.75, 320.0, 15.0, 4.0, 4.0),  // Laguna Salada
];

/// Quarries (quarry blasts happen here).
const QUARRIES: [(f64, f64); 7] = [
    (34.58, -117.33),
    (34.45, -116.95),
    (34.17, -117.45),
    (33.87, -117.60),
    (35.05, -118.37),
    (32.85, -116.95),
    (34.06, -117.52),
];

/// Military ranges (explosions happen here).
const RANGES: [(f64, f64); 3] = [(35.70, -117.75), (34.35, -116.15), (33.35, -115.35)];

/// Reference places for the `place` column: name, region suffix, latitude, longitude.
const TOWNS: [(&str, &str, f64, f64); 40] = [
    ("Ridgecrest", "CA", 35.6225, -117.6709),
    ("Trona", "CA", 35.7633, -117.3723),
    ("Coso Junction", "CA", 36.0441, -117.9495),
    ("Olancha", "CA", 36.2827, -118.0048),
    ("Mojave", "CA", 35.0525, -118.1739),
    ("Tehachapi", "CA", 35.1322, -118.4490),
    ("Lake Isabella", "CA", 35.6180, -118.4731),
    ("Bakersfield", "CA", 35.3733, -119.0187),
    ("Maricopa", "CA", 35.0589, -119.4010),
    ("Santa Barbara", "CA", 34.4208, -119.6982),
    ("Ventura", "CA", 34.2746, -119.2290),
    ("Lompoc", "CA", 34.6391, -120.4579),
    ("Santa Maria", "CA", 34.9530, -120.4357),
    ("Northridge", "CA", 34.2283, -118.5368),
    ("Los Angeles", "CA", 34.0522, -118.2437),
    ("Lancaster", "CA", 34.6868, -118.1542),
    ("Avalon", "CA", 33.3428, -118.3278),
    ("Barstow", "CA", 34.8958, -117.0173),
    ("Baker", "CA", 35.2650, -116.0739),
    ("Ludlow", "CA", 34.7211, -116.1597),
    ("Yucca Valley", "CA", 34.1142, -116.4322),
    ("Twentynine Palms", "CA", 34.1356, -116.0542),
    ("Big Bear City", "CA", 34.2611, -116.8450),
    ("Banning", "CA", 33.9256, -116.8764),
    ("Palm Springs", "CA", 33.8303, -116.5453),
    ("Anza", "CA", 33.5550, -116.6739),
    ("Lake Elsinore", "CA", 33.6681, -117.3273),
    ("Borrego Springs", "CA", 33.2559, -116.3750),
    ("Ocotillo Wells", "CA", 33.1442, -116.1331),
    ("Brawley", "CA", 32.9787, -115.5303),
    ("Niland", "CA", 33.2400, -115.5189),
    ("El Centro", "CA", 32.7920, -115.5631),
    ("Ocotillo", "CA", 32.7387, -115.9939),
    ("San Diego", "CA", 32.7157, -117.1611),
    ("Blythe", "CA", 33.6103, -114.5964),
    ("Needles", "CA", 34.8481, -114.6141),
    ("Yuma", "AZ", 32.6927, -114.6277),
    ("Mexicali", "B.C., MX", 32.6245, -115.4523),
    ("Ensenada", "B.C., MX", 31.8667, -116.5964),
    ("Pahrump", "NV", 36.2083, -115.9839),
];

/// The streaming event process (see the module documentation).
struct Generator {
    rng: ChaCha8Rng,
    /// Last time that may be generated (Unix ms).
    end_ms: i64,
    /// Time of the last event emitted (Unix ms).
    now_ms: i64,
    /// Events still to emit, including the scheduled ones.
    remaining: usize,
    /// Scheduled aftershocks, earliest first.
    queue: BinaryHeap<Reverse<Scheduled>>,
    /// Counter giving scheduled aftershocks a deterministic order.
    seq: u64,
    /// Events emitted so far.
    emitted: u64,
    /// Aftershocks among them.
    aftershocks: u64,
}

impl Generator {
    /// A generator of `opts.events` events within `[start_ms, end_ms]`.
    fn new(opts: &SynthOptions, start_ms: i64, end_ms: i64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(opts.seed),
            end_ms,
            now_ms: start_ms,
            remaining: opts.events,
            queue: BinaryHeap::new(),
            seq: 0,
            emitted: 0,
            aftershocks: 0,
        }
    }

    /// The next event in time order.
    fn next_event(&mut self) -> Event {
        let unscheduled = self.remaining.saturating_sub(self.queue.len());
        let candidate = (unscheduled > 0).then(|| {
            let n = self.expected_background(unscheduled);
            self.background_time(n)
        });
        let next_aftershock = self.queue.peek().map(|Reverse(s)| s.time_ms);
        let event = match (next_aftershock, candidate) {
            (Some(a), Some(b)) if a > b => self.background_event(b),
            (Some(_), _) => match self.queue.pop() {
                Some(Reverse(scheduled)) => {
                    self.aftershocks += 1;
                    self.aftershock(&scheduled)
                }
                None => self.background_event(self.now_ms),
            },
            (None, Some(b)) => self.background_event(b),
            // Unreachable while `remaining > 0`; stay well-defined regardless.
            (None, None) => self.background_event(self.now_ms),
        }
        .rounded();
        self.remaining = self.remaining.saturating_sub(1);
        self.emitted += 1;
        self.now_ms = event.time_ms;
        if event.kind == EventKind::Earthquake && event.mag >= MAINSHOCK_MIN {
            self.schedule_aftershocks(&event);
        }
        event
    }

    /// How many of the `unscheduled` remaining events should be background events.
    ///
    /// The rest will be aftershocks not scheduled yet; their share is estimated from
    /// the events so far (starting from a prior), which keeps the overall event rate
    /// steady over the whole time range instead of front-loading background events.
    fn expected_background(&self, unscheduled: usize) -> usize {
        let share = (self.aftershocks as f64 + PRIOR_AFTERSHOCK_SHARE * PRIOR_WEIGHT)
            / (self.emitted as f64 + PRIOR_WEIGHT);
        ((unscheduled as f64 * (1.0 - share)).round() as usize).clamp(1, unscheduled)
    }

    /// The earliest of `n` uniform times on `(now, end]`.
    fn background_time(&mut self, n: usize) -> i64 {
        let u = unit_open(&mut self.rng);
        // 1 - u^(1/n), computed without cancellation for large n.
        let fraction = -(u.ln() / n as f64).exp_m1();
        let span = (self.end_ms - self.now_ms) as f64;
        (self.now_ms + (span * fraction) as i64).min(self.end_ms)
    }

    /// A background event at `time_ms`: an earthquake, or by day sometimes a blast.
    fn background_event(&mut self, time_ms: i64) -> Event {
        let rng = &mut self.rng;
        let daytime = is_daytime(time_ms);
        let u: f64 = rng.random();
        if daytime && u < QUARRY_DAYTIME_CHANCE {
            return artificial_event(rng, time_ms, EventKind::QuarryBlast, &QUARRIES);
        }
        if daytime && u < QUARRY_DAYTIME_CHANCE + EXPLOSION_DAYTIME_CHANCE {
            return artificial_event(rng, time_ms, EventKind::Explosion, &RANGES);
        }
        let (lat, lon) = background_epicentre(rng);
        Event {
            time_ms,
            lat,
            lon,
            depth: earthquake_depth(rng),
            mag: gutenberg_richter(rng, M_MAX),
            kind: EventKind::Earthquake,
        }
    }

    /// Materialises a scheduled aftershock near its mainshock.
    fn aftershock(&mut self, s: &Scheduled) -> Event {
        let rng = &mut self.rng;
        let along = normal(rng) * (s.length_km / 2.0).max(0.5);
        let across = normal(rng) * (0.3 + s.length_km / 10.0);
        let (lat, lon) = offset_km(s.lat, s.lon, s.strike, along, across);
        Event {
            time_ms: s.time_ms,
            lat,
            lon,
            depth: (s.depth + 2.0 * normal(rng)).clamp(-1.0, 30.0),
            mag: gutenberg_richter(rng, (s.main_mag - 0.1).clamp(MC + 0.1, M_MAX)),
            kind: EventKind::Earthquake,
        }
    }

    /// Schedules the aftershocks of `main`, within the queue and event budgets.
    fn schedule_aftershocks(&mut self, main: &Event) {
        let expected = PRODUCTIVITY * 10f64.powf(main.mag - MC);
        let room = QUEUE_CAPACITY.saturating_sub(self.queue.len());
        let budget = self.remaining.saturating_sub(self.queue.len());
        let count = poisson(&mut self.rng, expected)
            .min(MAX_SEQUENCE)
            .min(room)
            .min(budget);
        let length_km = rupture_length_km(main.mag);
        let strike = self.rng.random_range(0.0..180.0);
        for _ in 0..count {
            let delay_ms = (omori_delay_days(&mut self.rng) * MS_PER_DAY) as i64;
            let time_ms = main.time_ms.saturating_add(delay_ms.max(1_000));
            if time_ms > self.end_ms {
                continue;
            }
            self.seq += 1;
            self.queue.push(Reverse(Scheduled {
                time_ms,
                seq: self.seq,
                lat: main.lat,
                lon: main.lon,
                depth: main.depth,
                strike,
                length_km,
                main_mag: main.mag,
            }));
        }
    }
}

/// A uniform number in `(0, 1]` (safe to take the logarithm of).
fn unit_open(rng: &mut impl Rng) -> f64 {
    1.0 - rng.random::<f64>()
}

/// A standard normal deviate (Box-Muller).
fn normal(rng: &mut impl Rng) -> f64 {
    let u = unit_open(rng);
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// A Poisson deviate: Knuth's method for small means, a rounded normal otherwise.
fn poisson(rng: &mut impl Rng, mean: f64) -> usize {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 30.0 {
        return (mean + mean.sqrt() * normal(rng)).round().max(0.0) as usize;
    }
    let limit = (-mean).exp();
    let mut product: f64 = rng.random();
    let mut count = 0;
    while product > limit {
        product *= rng.random::<f64>();
        count += 1;
    }
    count
}

/// A Gutenberg-Richter magnitude in `[Mc, max)`: the inverse CDF of the truncated
/// exponential law `m = Mc - log10(1 - u (1 - 10^(-b (max - Mc)))) / b`.
fn gutenberg_richter(rng: &mut impl Rng, max: f64) -> f64 {
    let u: f64 = rng.random();
    let span = 1.0 - 10f64.powf(-B_VALUE * (max - MC));
    MC - (1.0 - u * span).log10() / B_VALUE
}

/// Delay of an aftershock after its mainshock, in days: modified Omori law
/// `n(t) ~ (c + t)^-p`, truncated at [`OMORI_MAX_DAYS`] (inverse CDF).
fn omori_delay_days(rng: &mut impl Rng) -> f64 {
    let q = 1.0 - OMORI_P;
    let tail = (1.0 + OMORI_MAX_DAYS / OMORI_C_DAYS).powf(q);
    let u: f64 = rng.random();
    OMORI_C_DAYS * ((1.0 - u * (1.0 - tail)).powf(1.0 / q) - 1.0)
}

/// Rough rupture length for a magnitude, km.
fn rupture_length_km(mag: f64) -> f64 {
    10f64.powf(0.5 * mag - 1.8)
}

/// Typical crustal depth, km: mostly 0-20 km, ~1% slightly above sea level.
fn earthquake_depth(rng: &mut impl Rng) -> f64 {
    if rng.random::<f64>() < 0.01 {
        return -rng.random_range(0.0..1.5);
    }
    (8.0 + 4.5 * normal(rng)).clamp(0.1, 30.0)
}

/// Whether a UTC time falls between 08:00 and 17:00 Pacific standard time.
fn is_daytime(time_ms: i64) -> bool {
    let utc_hour = time_ms.div_euclid(3_600_000).rem_euclid(24);
    let local_hour = (utc_hour + 24 - 8) % 24;
    (8..17).contains(&local_hour)
}

/// A shallow, small man-made event at one of `sites`.
fn artificial_event(
    rng: &mut impl Rng,
    time_ms: i64,
    kind: EventKind,
    sites: &[(f64, f64)],
) -> Event {
    let (lat, lon) = sites[rng.random_range(0..sites.len())];
    Event {
        time_ms,
        lat: lat + 0.01 * normal(rng),
        lon: lon + 0.01 * normal(rng),
        depth: rng.random_range(-0.8..1.0),
        mag: gutenberg_richter(rng, 2.49),
        kind,
    }
}

/// A background epicentre: clustered on a seismic zone, diffuse in the region, or
/// (a few percent) just outside it.
fn background_epicentre(rng: &mut impl Rng) -> (f64, f64) {
    let u: f64 = rng.random();
    if u < OUTSIDE_SHARE {
        return outside_epicentre(rng);
    }
    if u < OUTSIDE_SHARE + DIFFUSE_SHARE {
        return uniform_in(rng, REGION);
    }
    let cluster = pick_cluster(rng);
    let along = normal(rng) * cluster.along_km;
    let across = normal(rng) * cluster.across_km;
    offset_km(cluster.lat, cluster.lon, cluster.strike, along, across)
}

/// A zone chosen with probability proportional to its weight.
fn pick_cluster(rng: &mut impl Rng) -> &'static Cluster {
    let total: f64 = CLUSTERS.iter().map(|c| c.weight).sum();
    let mut x = rng.random::<f64>() * total;
    for cluster in &CLUSTERS {
        if x < cluster.weight {
            return cluster;
        }
        x -= cluster.weight;
    }
    &CLUSTERS[CLUSTERS.len() - 1]
}

/// A uniform point in the ring between [`REGION`] and [`OUTER_REGION`].
fn outside_epicentre(rng: &mut impl Rng) -> (f64, f64) {
    // Rejection sampling; the ring is ~30% of the outer box, so this ends quickly.
    for _ in 0..64 {
        let (lat, lon) = uniform_in(rng, OUTER_REGION);
        if !in_box(REGION, lat, lon) {
            return (lat, lon);
        }
    }
    (OUTER_REGION[0] + 0.1, OUTER_REGION[2] + 0.1)
}

/// A uniform point in `[min_lat, max_lat] x [min_lon, max_lon]`.
fn uniform_in(rng: &mut impl Rng, [lat0, lat1, lon0, lon1]: [f64; 4]) -> (f64, f64) {
    (rng.random_range(lat0..lat1), rng.random_range(lon0..lon1))
}

/// Whether a point lies in a `[min_lat, max_lat, min_lon, max_lon]` box.
fn in_box([lat0, lat1, lon0, lon1]: [f64; 4], lat: f64, lon: f64) -> bool {
    (lat0..=lat1).contains(&lat) && (lon0..=lon1).contains(&lon)
}

/// Moves `along` km along `strike` and `across` km perpendicular to it.
fn offset_km(lat: f64, lon: f64, strike: f64, along: f64, across: f64) -> (f64, f64) {
    let (sin, cos) = strike.to_radians().sin_cos();
    let east = along * sin + across * cos;
    let north = along * cos - across * sin;
    let lat2 = lat + north / KM_PER_DEGREE;
    let lon2 = lon + east / (KM_PER_DEGREE * lat.to_radians().cos());
    (lat2, lon2)
}

/// ComCat-style place: `"12km NE of Ridgecrest, CA"` from the nearest reference town.
fn place(out: &mut String, lat: f64, lon: f64) {
    // Local flat-earth approximation around the event (one cosine per event).
    let km_per_lon_degree = KM_PER_DEGREE * lat.to_radians().cos();
    let offset = |t_lat: f64, t_lon: f64| {
        (
            (lon - t_lon) * km_per_lon_degree,
            (lat - t_lat) * KM_PER_DEGREE,
        )
    };
    let squared = |(east, north): (f64, f64)| east * east + north * north;
    let nearest = TOWNS
        .iter()
        .min_by(|a, b| squared(offset(a.2, a.3)).total_cmp(&squared(offset(b.2, b.3))));
    if let Some(&(name, region, t_lat, t_lon)) = nearest {
        let (east, north) = offset(t_lat, t_lon);
        let km = east.hypot(north).round();
        let _ = write!(out, "{km}km {} of {name}, {region}", compass(east, north));
    }
}

/// The 16-point compass direction of a displacement.
fn compass(east: f64, north: f64) -> &'static str {
    const POINTS: [&str; 16] = [
        "N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW",
        "NW", "NNW",
    ];
    let bearing = east.atan2(north).to_degrees().rem_euclid(360.0);
    POINTS[((bearing / 22.5).round() as usize) % 16]
}

/// Writes `x` with `decimals` decimals (like `{:.N}`, without a `-0`), through integer
/// formatting: float formatting dominated the run time of large catalogues.
fn fixed(out: &mut String, x: f64, decimals: u32) {
    let scale = 10u64.pow(decimals);
    let scaled = (x * scale as f64).round();
    let sign = if scaled < 0.0 { "-" } else { "" };
    let n = scaled.abs() as u64;
    let _ = write!(out, "{sign}{}", n / scale);
    if decimals > 0 {
        let width = decimals as usize;
        let _ = write!(out, ".{:0width$}", n % scale);
    }
}

/// Writes a Unix-millisecond time as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn timestamp(out: &mut String, time_ms: i64) {
    // Written field by field: much faster than a chrono format string.
    if let Some(t) = DateTime::from_timestamp_millis(time_ms) {
        let _ = write!(
            out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            time_ms.rem_euclid(1_000)
        );
    }
}

/// The 22 text fields of one row, reused from row to row.
#[derive(Default)]
struct Row {
    fields: [String; 22],
    /// Last event id number (ids increase with time, with small gaps).
    last_id: u64,
}

impl Row {
    /// Formats `event` into the fields, drawing the catalogue metadata from `rng`.
    fn fill(&mut self, event: &Event, rng: &mut impl Rng) {
        for field in &mut self.fields {
            field.clear();
        }
        self.last_id = if self.last_id == 0 {
            10_000_000 + rng.random_range(0..1_000_000)
        } else {
            self.last_id + rng.random_range(1..=3)
        };
        let has_mag = rng.random::<f64>() >= EMPTY_MAG_CHANCE;
        let f = &mut self.fields;
        let m = event.mag;

        timestamp(&mut f[0], event.time_ms);
        fixed(&mut f[1], event.lat, 4);
        fixed(&mut f[2], event.lon, 4);
        fixed(&mut f[3], event.depth, 2);
        if has_mag {
            fixed(&mut f[4], m, 2);
            f[5].push_str(mag_type(rng, m));
        }
        if present(rng) {
            let stations = 6.0 + 4.0 * m * m + rng.random_range(0.0..10.0);
            fixed(&mut f[6], stations, 0);
        }
        if present(rng) {
            fixed(&mut f[7], rng.random_range(20.0..300.0), 0);
        }
        if present(rng) {
            fixed(&mut f[8], rng.random_range(0.002..0.6), 5);
        }
        fixed(&mut f[9], rng.random_range(0.05..0.45), 2);
        f[10].push_str("ci");
        let _ = write!(f[11], "ci{:08}", self.last_id);
        let automatic = rng.random::<f64>() < AUTOMATIC_CHANCE;
        timestamp(&mut f[12], event.time_ms + update_delay_ms(rng, automatic));
        place(&mut f[13], event.lat, event.lon);
        f[14].push_str(event.kind.label());
        if present(rng) {
            fixed(&mut f[15], rng.random_range(0.1..2.0), 2);
        }
        fixed(&mut f[16], rng.random_range(0.2..3.0), 2);
        if has_mag && present(rng) {
            fixed(&mut f[17], rng.random_range(0.05..0.3), 3);
        }
        if has_mag && present(rng) {
            let _ = write!(f[18], "{}", rng.random_range(3..60));
        }
        f[19].push_str(if automatic { "automatic" } else { "reviewed" });
        f[20].push_str("ci");
        f[21].push_str("ci");
    }
}

/// Whether an optional field gets a value (it stays empty [`EMPTY_FIELD_CHANCE`] of
/// the time).
fn present(rng: &mut impl Rng) -> bool {
    rng.random::<f64>() >= EMPTY_FIELD_CHANCE
}

/// ComCat magnitude type for a CI event of magnitude `m`.
fn mag_type(rng: &mut impl Rng, m: f64) -> &'static str {
    let u: f64 = rng.random();
    match (m >= 4.0, u) {
        (true, u) if u < 0.7 => "mw",
        (true, _) => "ml",
        (false, u) if u < 0.80 => "ml",
        (false, u) if u < 0.92 => "md",
        (false, _) => "mh",
    }
}

/// How long after the event its record was last updated, ms: minutes for automatic
/// solutions, hours to years for reviewed ones.
fn update_delay_ms(rng: &mut impl Rng, automatic: bool) -> i64 {
    let minutes = if automatic {
        rng.random_range(1.0..30.0)
    } else {
        // Log-uniform between one hour and three years.
        10f64.powf(rng.random_range(60f64.log10()..(3.0 * 525_960.0f64).log10()))
    };
    (minutes * 60_000.0) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_matches_float_formatting() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..10_000 {
            let x = rng.random_range(-200.0..200.0);
            for decimals in [0u32, 2, 4, 5] {
                // `+ 0.0`: `fixed` never writes a negative zero.
                let scale = 10f64.powi(decimals as i32);
                let rounded = (x * scale).round() / scale + 0.0;
                let mut out = String::new();
                fixed(&mut out, rounded, decimals);
                assert_eq!(out, format!("{rounded:.*}", decimals as usize));
            }
        }
        let mut out = String::new();
        fixed(&mut out, -0.001, 2);
        assert_eq!(out, "0.00");
    }

    #[test]
    fn compass_points() {
        assert_eq!(compass(0.0, 1.0), "N");
        assert_eq!(compass(1.0, 1.0), "NE");
        assert_eq!(compass(-1.0, 0.0), "W");
        assert_eq!(compass(0.1, -1.0), "S");
    }

    #[test]
    fn gutenberg_richter_stays_in_range() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..10_000 {
            let m = gutenberg_richter(&mut rng, 2.49);
            assert!((MC..2.49).contains(&m), "{m}");
        }
    }

    #[test]
    fn omori_delays_are_bounded() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..10_000 {
            let d = omori_delay_days(&mut rng);
            assert!((0.0..=OMORI_MAX_DAYS + 1e-6).contains(&d), "{d}");
        }
    }

    #[test]
    fn daytime_is_pacific() {
        // 2023-01-01T20:00Z is 12:00 PST.
        let noon = 1_672_603_200_000;
        assert!(is_daytime(noon));
        assert!(!is_daytime(noon + 12 * 3_600_000));
    }
}
