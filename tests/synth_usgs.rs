//! The synthetic ComCat catalogue: deterministic, well-formed and statistically realistic.

use std::collections::HashSet;

use chrono::{NaiveDate, NaiveDateTime, Timelike};
use sciml_data::sources::usgs::synth::{
    COMCAT_COLUMNS_22, CsvLayout, SynthOptions, SynthStats, synthesize,
};

/// Column indices used below.
const TIME: usize = 0;
const LAT: usize = 1;
const LON: usize = 2;
const DEPTH: usize = 3;
const MAG: usize = 4;
const ID: usize = 11;
const UPDATED: usize = 12;
const PLACE: usize = 13;
const TYPE: usize = 14;

fn options(seed: u64, events: usize) -> SynthOptions {
    SynthOptions {
        seed,
        start_year: 2000,
        end_year: 2009,
        events,
        layout: CsvLayout::Current22,
    }
}

/// Generates a catalogue in memory.
fn generate(opts: &SynthOptions) -> (Vec<u8>, SynthStats) {
    let mut bytes = Vec::new();
    let stats = synthesize(opts, &mut bytes).expect("synthesis succeeds");
    (bytes, stats)
}

/// Parses a generated catalogue: header and records (strict field counts).
fn parse(bytes: &[u8]) -> (Vec<String>, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_reader(bytes);
    let header = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    let records = reader
        .records()
        .collect::<Result<Vec<_>, _>>()
        .expect("every row parses with the header's field count");
    (header, records)
}

fn time_of(record: &csv::StringRecord, column: usize) -> NaiveDateTime {
    let text = &record[column];
    assert_eq!(text.len(), 24, "ComCat time format: {text}");
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.3fZ").expect("ComCat time")
}

fn num(record: &csv::StringRecord, column: usize) -> f64 {
    record[column].parse().expect("numeric field")
}

fn in_region(record: &csv::StringRecord) -> bool {
    (32.0..=36.0).contains(&num(record, LAT)) && (-120.0..=-114.0).contains(&num(record, LON))
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (a, _) = generate(&options(7, 5_000));
    let (b, _) = generate(&options(7, 5_000));
    let (c, _) = generate(&options(8, 5_000));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn rows_header_and_fields_are_comcat_shaped() {
    let (bytes, stats) = generate(&options(1, 5_000));
    let (header, records) = parse(&bytes);

    assert_eq!(header, COMCAT_COLUMNS_22);
    assert_eq!(records.len(), 5_000);
    assert_eq!(stats.events, 5_000);
    assert!(records.iter().all(|r| r.len() == 22));

    let mut ids = HashSet::new();
    for r in &records {
        let id = &r[ID];
        assert!(id.len() == 10 && id.starts_with("ci"), "{id}");
        assert!(id[2..].bytes().all(|b| b.is_ascii_digit()), "{id}");
        assert!(ids.insert(id.to_string()), "duplicate id {id}");
        assert!(time_of(r, UPDATED) > time_of(r, TIME));
        assert!(["earthquake", "quarry blast", "explosion"].contains(&&r[TYPE]));
        assert_eq!((&r[10], &r[20], &r[21]), ("ci", "ci", "ci"));
        assert!(["reviewed", "automatic"].contains(&&r[19]));
        // Place like "12km NE of Ridgecrest, CA".
        let place = &r[PLACE];
        let (distance, rest) = place.split_once("km ").expect("distance in km");
        assert!(distance.parse::<u32>().is_ok(), "{place}");
        let (direction, town) = rest.split_once(" of ").expect("direction of town");
        assert!(direction.chars().all(|c| "NSEW".contains(c)) && direction.len() <= 3);
        assert!(town.contains(", "), "{place}");
        if !r[MAG].is_empty() {
            assert!(["ml", "md", "mw", "mh"].contains(&&r[5]), "{}", &r[5]);
        }
    }
    // The comma inside `place` forces CSV quoting, as in ComCat.
    let second_line = bytes.split(|&b| b == b'\n').nth(1).expect("a row");
    assert!(String::from_utf8_lossy(second_line).contains(",\""));

    // Empty optional fields exist, and the statistics count them exactly.
    let empty: usize = records
        .iter()
        .map(|r| r.iter().filter(|f| f.is_empty()).count())
        .sum();
    assert!(empty > 0);
    assert_eq!(stats.empty_fields, empty as u64);
}

#[test]
fn legacy_layout_has_the_first_15_columns() {
    let opts = SynthOptions {
        layout: CsvLayout::Legacy15,
        ..options(3, 2_000)
    };
    let (bytes, _) = generate(&opts);
    let (header, records) = parse(&bytes);

    assert_eq!(header, COMCAT_COLUMNS_22[..15]);
    assert_eq!(records.len(), 2_000);
    assert!(records.iter().all(|r| r.len() == 15));

    // Same events as the current layout, just fewer columns.
    let (current, _) = generate(&options(3, 2_000));
    let (_, full) = parse(&current);
    assert_eq!(
        records
            .iter()
            .map(|r| r[TIME].to_string())
            .collect::<Vec<_>>(),
        full.iter().map(|r| r[TIME].to_string()).collect::<Vec<_>>()
    );
}

#[test]
fn times_are_sorted_within_the_years_and_spread_over_them() {
    let opts = SynthOptions {
        start_year: 2019,
        end_year: 2021,
        ..options(11, 20_000)
    };
    let (bytes, _) = generate(&opts);
    let (_, records) = parse(&bytes);
    let times: Vec<NaiveDateTime> = records.iter().map(|r| time_of(r, TIME)).collect();

    let first = NaiveDate::from_ymd_opt(2019, 1, 1)
        .expect("date")
        .and_hms_opt(0, 0, 0)
        .expect("time");
    let last = NaiveDate::from_ymd_opt(2021, 12, 31)
        .expect("date")
        .and_hms_opt(23, 59, 59)
        .expect("time");
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "times are sorted");
    assert!(times.iter().all(|t| (first..=last).contains(t)));
    // Every quarter of the range holds events (the catalogue spans all of it).
    for year in 2019..=2021 {
        for quarter_month in [1, 4, 7, 10] {
            let from = NaiveDate::from_ymd_opt(year, quarter_month, 1).expect("date");
            let count = times
                .iter()
                .filter(|t| t.date() >= from && t.date() < from + chrono::Days::new(90))
                .count();
            assert!(count > 300, "{year}-{quarter_month}: {count} events");
        }
    }
}

#[test]
fn magnitudes_follow_gutenberg_richter() {
    let (bytes, _) = generate(&options(5, 20_000));
    let (_, records) = parse(&bytes);
    let mags: Vec<f64> = records
        .iter()
        .filter(|r| !r[MAG].is_empty())
        .map(|r| num(r, MAG))
        .collect();

    let mc = 1.0;
    assert!(mags.iter().all(|&m| (mc..=7.5).contains(&m)));
    // Aki (1965) maximum-likelihood b-value.
    let mean = mags.iter().sum::<f64>() / mags.len() as f64;
    let b = std::f64::consts::LOG10_E / (mean - mc);
    assert!(0.8 < b && b < 1.2, "b = {b}");
    // Ten times fewer events per magnitude unit.
    let at_least = |m: f64| mags.iter().filter(|&&x| x >= m).count() as f64;
    let ratio = at_least(1.0) / at_least(2.0);
    assert!((7.0..14.0).contains(&ratio), "N(>=1)/N(>=2) = {ratio}");

    // About 0.2% of events have no magnitude.
    let missing = records.len() - mags.len();
    assert!((5..=100).contains(&missing), "{missing} empty magnitudes");
}

#[test]
fn blasts_are_rare_small_shallow_and_by_day() {
    let (bytes, stats) = generate(&options(9, 20_000));
    let (_, records) = parse(&bytes);
    let of_type = |t: &str| records.iter().filter(|r| &r[TYPE] == t).collect::<Vec<_>>();
    let quarry = of_type("quarry blast");
    let explosions = of_type("explosion");

    assert_eq!(stats.quarry_blasts, quarry.len() as u64);
    assert_eq!(stats.explosions, explosions.len() as u64);
    let share = quarry.len() as f64 / records.len() as f64;
    assert!((0.012..0.03).contains(&share), "quarry blast share {share}");
    let share = explosions.len() as f64 / records.len() as f64;
    assert!((0.002..0.01).contains(&share), "explosion share {share}");

    for r in quarry.iter().chain(&explosions) {
        if !r[MAG].is_empty() {
            assert!(num(r, MAG) < 2.5, "{:?}", r);
        }
        assert!(num(r, DEPTH) < 2.0, "{:?}", r);
        // 08:00-17:00 Pacific standard time is 16:00-01:00 UTC.
        let hour = time_of(r, TIME).hour();
        assert!(!(1..16).contains(&hour), "blast at {hour}:00 UTC");
    }
}

#[test]
fn most_events_are_in_the_region_and_some_just_outside() {
    let (bytes, stats) = generate(&options(13, 20_000));
    let (_, records) = parse(&bytes);

    let outside = records.iter().filter(|r| !in_region(r)).count();
    assert_eq!(stats.outside_region, outside as u64);
    let share = outside as f64 / records.len() as f64;
    assert!((0.01..0.2).contains(&share), "outside share {share}");
    for r in records.iter().filter(|r| !in_region(r)) {
        assert!((31.0..=37.0).contains(&num(r, LAT)) && (-121.0..=-113.0).contains(&num(r, LON)));
    }
    // Depths: mostly 0-20 km, a few above sea level.
    let depths: Vec<f64> = records.iter().map(|r| num(r, DEPTH)).collect();
    let typical = depths.iter().filter(|d| (0.0..=20.0).contains(*d)).count();
    assert!(typical as f64 > 0.9 * depths.len() as f64);
    assert!(depths.iter().any(|&d| d < 0.0));
}

#[test]
fn events_cluster_in_space_and_time() {
    let (bytes, _) = generate(&options(17, 20_000));
    let (_, records) = parse(&bytes);

    // Epicentres: a uniform spread over the 4 x 6 degree box would put ~1/24 of the
    // events in each 1 x 1 degree cell; clusters make the busiest cell far busier.
    let mut cells = std::collections::HashMap::new();
    for r in records.iter().filter(|r| in_region(r)) {
        let cell = (num(r, LAT).floor() as i32, num(r, LON).floor() as i32);
        *cells.entry(cell).or_insert(0usize) += 1;
    }
    let busiest = cells.values().copied().max().unwrap_or(0);
    assert!(
        busiest as f64 > 3.0 * records.len() as f64 / 24.0,
        "busiest cell {busiest}"
    );

    // Times: aftershock bursts make daily counts over-dispersed; for a Poisson process
    // (no clustering) their variance would equal their mean.
    let mut per_day = std::collections::HashMap::new();
    for r in &records {
        *per_day.entry(time_of(r, TIME).date()).or_insert(0usize) += 1;
    }
    let days = (NaiveDate::from_ymd_opt(2010, 1, 1).expect("date")
        - NaiveDate::from_ymd_opt(2000, 1, 1).expect("date"))
    .num_days() as usize;
    let counts: Vec<f64> = (0..days)
        .map(|d| {
            let day =
                NaiveDate::from_ymd_opt(2000, 1, 1).expect("date") + chrono::Days::new(d as u64);
            per_day.get(&day).copied().unwrap_or(0) as f64
        })
        .collect();
    let mean = counts.iter().sum::<f64>() / counts.len() as f64;
    let var = counts.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / counts.len() as f64;
    assert!(var / mean > 3.0, "index of dispersion {}", var / mean);
}

#[test]
fn edge_cases_and_invalid_options() {
    let (bytes, stats) = generate(&options(1, 0));
    let (header, records) = parse(&bytes);
    assert_eq!(header.len(), 22);
    assert!(records.is_empty());
    assert_eq!(stats.events, 0);

    let one_year = SynthOptions {
        start_year: 2020,
        end_year: 2020,
        ..options(2, 1_000)
    };
    let (bytes, _) = generate(&one_year);
    let (_, records) = parse(&bytes);
    assert!(records.iter().all(|r| r[TIME].starts_with("2020-")));

    let reversed = SynthOptions {
        start_year: 2010,
        end_year: 2000,
        ..options(1, 10)
    };
    assert!(synthesize(&reversed, Vec::new()).is_err());
    let too_many = options(1, 100_000_000);
    assert!(synthesize(&too_many, Vec::new()).is_err());
    let out_of_range = SynthOptions {
        start_year: 1_000_000,
        end_year: 1_000_000,
        ..options(1, 10)
    };
    assert!(synthesize(&out_of_range, Vec::new()).is_err());
}

/// One million events stream through without holding them (about 20 s in a debug build).
#[test]
fn a_million_events_stream() {
    /// Counts lines instead of storing the output.
    struct LineCounter(u64);
    impl std::io::Write for LineCounter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.iter().filter(|&&b| b == b'\n').count() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut lines = LineCounter(0);
    let stats = synthesize(&options(21, 1_000_000), &mut lines).expect("synthesis");
    assert_eq!(stats.events, 1_000_000);
    assert_eq!(lines.0, 1_000_001, "header and one line per event");
}
