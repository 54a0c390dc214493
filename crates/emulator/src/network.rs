//! The network path a request plays, which decides its network condition keys (`aws:SourceIp`, or the VPC keys):
//! the `X-Keyless-*` VPC headers and `X-Forwarded-For` (with `--trust-forwarded-for`), else the default of
//! `--source-ip` / `--source-vpce` / `--source-vpc` / `--source-vpc-arn` / `--vpc-source-ip`, else the peer address.
//!
//! AWS sets `aws:SourceIp` only for calls over the public internet and the VPC keys only for calls through an
//! interface VPC endpoint (IAMUG `reference_sts_vpc_condition_keys_federated`), so a request with any VPC header is
//! a VPC-path request with no `aws:SourceIp`. The VPC headers are honoured only from loopback peers: they let a
//! test on this machine play a runner inside a VPC, and nobody else.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use keyless_iam::network::{self, Network, VpcPath};

use crate::error::AwsError;

/// `aws:SourceVpc` of the request (a VPC ID).
pub const SOURCE_VPC_HEADER: &str = "x-keyless-source-vpc";
/// `aws:SourceVpce` of the request (a VPC endpoint ID).
pub const SOURCE_VPCE_HEADER: &str = "x-keyless-source-vpce";
/// `aws:SourceVpcArn` of the request (a VPC ARN).
pub const SOURCE_VPC_ARN_HEADER: &str = "x-keyless-source-vpc-arn";
/// `aws:VpcSourceIp` of the request (the runner's private address).
pub const VPC_SOURCE_IP_HEADER: &str = "x-keyless-vpc-source-ip";

/// The VPC headers, in the order their keys are documented.
const VPC_HEADERS: [&str; 4] = [
    SOURCE_VPCE_HEADER,
    SOURCE_VPC_HEADER,
    SOURCE_VPC_ARN_HEADER,
    VPC_SOURCE_IP_HEADER,
];

/// A header value, trimmed; a value that is not visible ASCII is refused.
fn header<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, AwsError> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => value.to_str().map(|v| Some(v.trim())).map_err(|_| {
            AwsError::validation(format!(
                "The {name} header is not printable ASCII; send a {}.",
                what(name)
            ))
        }),
    }
}

fn what(name: &str) -> &'static str {
    match name {
        SOURCE_VPCE_HEADER => "VPC endpoint ID such as vpce-0a1b2c3d4e5f60718",
        SOURCE_VPC_HEADER => "VPC ID such as vpc-0e9801d129c0ffee1",
        SOURCE_VPC_ARN_HEADER => {
            "VPC ARN such as arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-0e9801d129c0ffee1"
        }
        _ => "private IP address such as 10.20.0.7",
    }
}

/// The VPC path the `X-Keyless-*` headers describe (`None` without any), each value checked.
pub fn vpc_from_headers(headers: &HeaderMap) -> Result<Option<VpcPath>, AwsError> {
    if !VPC_HEADERS.iter().any(|h| headers.contains_key(*h)) {
        return Ok(None);
    }
    let invalid = |name: &str, value: &str| {
        AwsError::validation(format!(
            "The {name} header `{}` is not a {}.",
            value.chars().take(128).collect::<String>(),
            what(name)
        ))
    };
    let mut path = VpcPath::default();
    if let Some(value) = header(headers, SOURCE_VPCE_HEADER)? {
        if !network::is_vpc_endpoint_id(value) {
            return Err(invalid(SOURCE_VPCE_HEADER, value));
        }
        path = path.endpoint(value);
    }
    if let Some(value) = header(headers, SOURCE_VPC_HEADER)? {
        if !network::is_vpc_id(value) {
            return Err(invalid(SOURCE_VPC_HEADER, value));
        }
        path = path.vpc(value);
    }
    if let Some(value) = header(headers, SOURCE_VPC_ARN_HEADER)? {
        if !network::is_vpc_arn(value) {
            return Err(invalid(SOURCE_VPC_ARN_HEADER, value));
        }
        path = path.vpc_arn(value);
    }
    if let Some(value) = header(headers, VPC_SOURCE_IP_HEADER)? {
        let ip: IpAddr = value
            .parse()
            .map_err(|_| invalid(VPC_SOURCE_IP_HEADER, value))?;
        path = path.private_ip(ip.to_canonical());
    }
    Ok(Some(path))
}

/// The first `X-Forwarded-For` address.
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
}

/// The network a request plays. `default` is the `--source-ip`/`--source-vpc*` default (or what the in-process
/// owner set).
pub(crate) fn of_request(
    trust_forwarded_for: bool,
    default: Option<Network>,
    parts: &axum::http::request::Parts,
) -> Result<Network, AwsError> {
    // A dual-stack socket reports an IPv4 peer as `::ffff:a.b.c.d`; aws:SourceIp is the IPv4 address.
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_canonical());
    if trust_forwarded_for {
        if peer.is_some_and(|ip| ip.is_loopback()) {
            if let Some(path) = vpc_from_headers(&parts.headers)? {
                return Ok(Network::Vpc(path));
            }
        } else if VPC_HEADERS.iter().any(|h| parts.headers.contains_key(*h)) {
            tracing::debug!(
                peer = ?peer,
                "ignoring X-Keyless-* VPC headers from a peer that is not loopback"
            );
        }
        if let Some(ip) = forwarded_for(&parts.headers) {
            return Ok(Network::Internet { source_ip: ip });
        }
    }
    if let Some(default) = default {
        return Ok(default);
    }
    Ok(peer.map_or(Network::Unspecified, |ip| Network::Internet {
        source_ip: ip,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(peer: &str, headers: &[(&str, &str)]) -> axum::http::request::Parts {
        let mut builder = Request::builder().uri("/");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut request = builder.body(()).unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        request.into_parts().0
    }

    #[test]
    fn precedence_and_loopback_only() {
        let vpce = [(SOURCE_VPCE_HEADER, "vpce-0a1b2c3d4e5f60718")];
        // Headers from loopback, with the flag: the VPC path, no aws:SourceIp.
        let n = of_request(true, None, &parts("127.0.0.1:5", &vpce)).unwrap();
        assert_eq!(
            n,
            Network::Vpc(VpcPath::default().endpoint("vpce-0a1b2c3d4e5f60718"))
        );
        // Without the flag, or from another peer: ignored.
        let n = of_request(false, None, &parts("127.0.0.1:5", &vpce)).unwrap();
        assert_eq!(
            n,
            Network::Internet {
                source_ip: "127.0.0.1".parse().unwrap()
            }
        );
        let n = of_request(true, None, &parts("192.0.2.1:5", &vpce)).unwrap();
        assert_eq!(
            n,
            Network::Internet {
                source_ip: "192.0.2.1".parse().unwrap()
            }
        );
        // X-Forwarded-For beats the default, which beats the peer.
        let default = Network::Internet {
            source_ip: "203.0.113.9".parse().unwrap(),
        };
        let n = of_request(
            true,
            Some(default.clone()),
            &parts("127.0.0.1:5", &[("x-forwarded-for", "198.51.100.1")]),
        )
        .unwrap();
        assert_eq!(
            n,
            Network::Internet {
                source_ip: "198.51.100.1".parse().unwrap()
            }
        );
        let n = of_request(true, Some(default.clone()), &parts("127.0.0.1:5", &[])).unwrap();
        assert_eq!(n, default);
        // A dual-stack peer is its IPv4 address.
        let n = of_request(false, None, &parts("[::ffff:127.0.0.1]:5", &[])).unwrap();
        assert_eq!(
            n,
            Network::Internet {
                source_ip: "127.0.0.1".parse().unwrap()
            }
        );
    }

    #[test]
    fn header_values_are_checked() {
        for (name, value) in [
            (SOURCE_VPCE_HEADER, "vpc-0a1b2c3d4e5f60718"),
            (SOURCE_VPC_HEADER, "vpce-0a1b2c3d"),
            (SOURCE_VPC_ARN_HEADER, "vpc-0e9801d129c0ffee1"),
            (VPC_SOURCE_IP_HEADER, "10.20.0.0/24"),
        ] {
            let error =
                of_request(true, None, &parts("127.0.0.1:5", &[(name, value)])).unwrap_err();
            assert_eq!(error.code, "ValidationError");
            assert!(error.message.contains(name), "{}", error.message);
        }
        let all = [
            (SOURCE_VPCE_HEADER, "vpce-0a1b2c3d4e5f60718"),
            (SOURCE_VPC_HEADER, "vpc-0e9801d129c0ffee1"),
            (
                SOURCE_VPC_ARN_HEADER,
                "arn:aws:ec2:eu-west-1:222222222222:vpc/vpc-0e9801d129c0ffee1",
            ),
            (VPC_SOURCE_IP_HEADER, "10.20.0.7"),
        ];
        let Network::Vpc(path) = of_request(true, None, &parts("[::1]:5", &all)).unwrap() else {
            panic!("not the VPC path");
        };
        assert_eq!(path.private_ip, Some("10.20.0.7".parse().unwrap()));
        assert_eq!(path.vpc.as_deref(), Some("vpc-0e9801d129c0ffee1"));
    }
}
