//! `sciml-data metadata`: print a version's DataCite or Croissant document, or register the
//! DataCite record with a DataCite REST endpoint.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use super::{Format, MetadataOptions, Registration};
use crate::address::Address;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// DataCite metadata kernel 4.6, JSON of the DataCite REST API.
    Datacite,
    /// Croissant 1.1 JSON-LD.
    Croissant,
}

/// Arguments of `sciml-data metadata`.
#[derive(Debug, Args)]
pub struct MetadataArgs {
    /// <repository>/<dataset>@<version>
    pub version: String,
    #[arg(long, value_enum, default_value = "datacite")]
    pub format: FormatArg,
    /// This version's DOI (bare: 10.x/y). Regenerates the document with it.
    #[arg(long)]
    pub doi: Option<String>,
    /// DOI prefix under which DataCite mints a suffix (with --register, instead of --doi).
    #[arg(long)]
    pub prefix: Option<String>,
    /// The concept DOI that names every version (IsVersionOf).
    #[arg(long)]
    pub concept_doi: Option<String>,
    /// Where the repository is published (https://host/prefix): landing page and file URLs.
    #[arg(long)]
    pub url: Option<String>,
    /// Post the DataCite record to <api>/dois (credentials from DATACITE_USER and
    /// DATACITE_PASSWORD; a Draft unless --publish).
    #[arg(long, requires = "api")]
    pub register: bool,
    /// DataCite REST API root, e.g. https://api.test.datacite.org
    #[arg(long, value_name = "URL")]
    pub api: Option<String>,
    /// Make the DOI findable (event "publish") instead of a draft.
    #[arg(long, requires = "register")]
    pub publish: bool,
}

/// Runs `sciml-data metadata`.
pub async fn run(a: MetadataArgs) -> Result<ExitCode> {
    let addr = Address::parse(&a.version)?;
    let format = match a.format {
        FormatArg::Datacite => Format::Datacite,
        FormatArg::Croissant => Format::Croissant,
    };
    let opts = MetadataOptions {
        doi: a.doi,
        prefix: a.prefix,
        concept_doi: a.concept_doi,
        url: a.url,
    };
    let doc = super::for_address(&addr, format, &opts).await?;
    if !a.register {
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }
    anyhow::ensure!(
        format == Format::Datacite,
        "--register posts DataCite records: use --format datacite"
    );
    let api = a.api.context("--register needs --api URL")?;
    let user = std::env::var("DATACITE_USER")
        .context("set DATACITE_USER (the DataCite repository account) to register")?;
    let password = std::env::var("DATACITE_PASSWORD")
        .context("set DATACITE_PASSWORD (the repository password) to register")?;
    let answer = super::register(
        &doc,
        &Registration {
            api: api.clone(),
            user,
            password,
            publish: a.publish,
        },
    )
    .await?;
    let doi = answer["data"]["id"]
        .as_str()
        .or_else(|| answer["data"]["attributes"]["doi"].as_str())
        .unwrap_or("(no DOI in the answer)");
    let state = answer["data"]["attributes"]["state"]
        .as_str()
        .unwrap_or(if a.publish { "findable" } else { "draft" });
    println!("registered {addr} as DOI {doi} ({state}) at {api}");
    Ok(ExitCode::SUCCESS)
}
