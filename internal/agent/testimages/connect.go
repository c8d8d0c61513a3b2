package testimages

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// connectCommand is agnhost's connect: it opens a TCP connection (or sends a UDP datagram and
// waits for the answer) to host:port and, failing, prints UNKNOWN, TIMEOUT, DNS, REFUSED or
// OTHER on stderr and exits 1.
func (p *Proc) connectCommand() *cobra.Command {
	var timeout time.Duration
	var protocol, udpData string
	cmd := &cobra.Command{
		Use:   "connect [host:port]",
		Short: "Attempts a TCP, UDP or SCTP connection and returns useful errors",
		Args:  cobra.ExactArgs(1),
		Run: func(_ *cobra.Command, args []string) {
			if msg := connect(args[0], protocol, udpData, timeout); msg != "" {
				fmt.Fprintln(p.Stderr, msg)
				p.Exit(1)
			}
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "Maximum time before returning an error")
	cmd.Flags().StringVar(&protocol, "protocol", "tcp", "The protocol to use to perform the connection, can be tcp or udp")
	cmd.Flags().StringVar(&udpData, "udp-data", "hostname", "The UDP payload send to the server")
	cmd.Flags().String("sctp-data", "hostname", "The SCTP payload send to the server (SCTP is not supported)")
	return cmd
}

// connect reports "" when dest answered, else the failure's class and detail.
func connect(dest, protocol, udpData string, timeout time.Duration) string {
	switch protocol {
	case "", "tcp":
		if _, _, err := net.SplitHostPort(dest); err != nil {
			return "UNKNOWN: " + err.Error()
		}
		if _, err := net.ResolveTCPAddr("tcp", dest); err != nil {
			return "DNS: " + err.Error()
		}
		conn, err := net.DialTimeout("tcp", dest, timeout)
		if err == nil {
			conn.Close()
			return ""
		}
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			return "TIMEOUT"
		case errors.Is(err, syscall.ECONNREFUSED):
			return "REFUSED"
		}
		return "OTHER: " + err.Error()
	case "udp":
		if _, err := net.ResolveUDPAddr("udp", dest); err != nil {
			return "DNS: " + err.Error()
		}
		conn, err := net.Dial("udp", dest)
		if err != nil {
			return "OTHER: " + err.Error()
		}
		defer conn.Close()
		if timeout > 0 {
			conn.SetDeadline(time.Now().Add(timeout))
		}
		buf := make([]byte, 1024)
		_, err = conn.Write([]byte(udpData + "\n"))
		n := 0
		if err == nil {
			n, err = conn.Read(buf)
		}
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			return "TIMEOUT: " + err.Error()
		case err != nil && strings.Contains(err.Error(), "connection refused"):
			return "REFUSED: " + err.Error()
		case err != nil:
			return "UNKNOWN: " + err.Error()
		case n == 0:
			return "OTHER: No data received from the server. Cannot guarantee the server received the request."
		}
		return ""
	}
	return "Unsupported protocol " + protocol
}
