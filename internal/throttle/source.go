package throttle

import "net"

// SourceKey returns the throttling key of a request's source address
// (http.Request.RemoteAddr): its host, an IPv6 address by its /64 prefix
// (one subscriber's network).
func SourceKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.To4() != nil {
		return host
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
