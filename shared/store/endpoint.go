package store

import (
	"fmt"
	"strings"

	"github.com/certdrop/certdrop/internal/secureurl"
	"github.com/certdrop/certdrop/shared/config"
)

// Environment variables OpenOSS reads (through Options.Getenv).
const (
	// EnvRegion is the region Function Compute runs the function in; it
	// picks the default endpoint and scopes V4 signatures.
	EnvRegion = "FC_REGION"
	// EnvFunctionName is set by Function Compute for every function; its
	// presence means "running in Function Compute", where the default
	// endpoint is the region's internal one.
	EnvFunctionName = "FC_FUNCTION_NAME"
	// EnvEndpoint overrides the OSS endpoint, e.g. to reach a local
	// emulator: "https://host[:port]", or "http://" to a loopback host.
	EnvEndpoint = config.OSSEndpoint
)

// endpoint is a resolved OSS endpoint.
type endpoint struct {
	url      string // scheme://host[:port]
	region   string
	loopback bool // the host is loopback: force path-style addressing
}

// resolveEndpoint picks the OSS endpoint and signing region:
//
//   - the endpoint is opts.Endpoint, else CERTDROP_OSS_ENDPOINT, else
//     https://oss-<region>-internal.aliyuncs.com inside Function Compute
//     (FC_FUNCTION_NAME set), else https://oss-<region>.aliyuncs.com;
//   - the region is opts.Region, else FC_REGION, else the region named by
//     an oss-<region>[-internal].aliyuncs.com endpoint host.
//
// An explicit endpoint without a scheme means https. Plain http is allowed
// only to a loopback host (127.0.0.0/8, ::1, localhost): anywhere else it
// would send the request, signature and STS token in the clear.
func resolveEndpoint(opts Options, getenv func(string) string) (endpoint, error) {
	region := opts.Region
	if region == "" {
		region = getenv(EnvRegion)
	}
	raw := opts.Endpoint
	if raw == "" {
		raw = getenv(EnvEndpoint)
	}
	if raw == "" {
		if region == "" {
			return endpoint{}, fmt.Errorf("%w: set %s (or %s)", ErrNoRegion, EnvRegion, EnvEndpoint)
		}
		if !validRegion(region) {
			return endpoint{}, fmt.Errorf("invalid region %q", region)
		}
		host := "oss-" + region + ".aliyuncs.com"
		if getenv(EnvFunctionName) != "" {
			host = "oss-" + region + "-internal.aliyuncs.com"
		}
		return endpoint{url: "https://" + host, region: region}, nil
	}
	ep, err := secureurl.Parse("the OSS endpoint", raw)
	if err != nil {
		return endpoint{}, err
	}
	if region == "" {
		region = regionFromHost(ep.Hostname)
	}
	if region == "" {
		return endpoint{}, fmt.Errorf("%w for endpoint %s: set %s", ErrNoRegion, ep, EnvRegion)
	}
	if !validRegion(region) {
		return endpoint{}, fmt.Errorf("invalid region %q", region)
	}
	return endpoint{url: ep.String(), region: region, loopback: ep.Loopback}, nil
}

// regionFromHost returns the region of an oss-<region>[-internal].aliyuncs.com
// host, or "".
func regionFromHost(host string) string {
	h, ok := strings.CutSuffix(strings.ToLower(host), ".aliyuncs.com")
	if !ok {
		return ""
	}
	h, ok = strings.CutPrefix(h, "oss-")
	if !ok {
		return ""
	}
	h = strings.TrimSuffix(h, "-internal")
	if !validRegion(h) {
		return ""
	}
	return h
}

// validRegion accepts region IDs such as cn-hangzhou or ap-southeast-1.
func validRegion(r string) bool {
	if r == "" || len(r) > 64 || r[0] == '-' || r[len(r)-1] == '-' {
		return false
	}
	for _, c := range r {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
