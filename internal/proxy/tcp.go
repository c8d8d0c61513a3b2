package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// firstBufs holds the buffers firstBytes reads an endpoint's first answer into.
var firstBufs = sync.Pool{New: func() any { b := make([]byte, 16*1024); return &b }}

// maxDialAttempts bounds how many endpoints one new connection tries before it is given up.
const maxDialAttempts = 16

// tcpListener accepts connections on one address and proxies each to an endpoint of its
// balancer.
type tcpListener struct {
	key listenKey
	ln  *net.TCPListener
	bal atomic.Pointer[balancer]
}

func (p *Proxy) listenTCP(key listenKey) (*tcpListener, error) {
	// No TCP keep-alive probes on accepted connections: peers are on this host, and the four
	// setsockopt calls per connection show in profiles of short connections.
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), "tcp", key.addr.String())
	if err != nil {
		return nil, err
	}
	return &tcpListener{key: key, ln: ln.(*net.TCPListener)}, nil
}

func (l *tcpListener) close() error { return l.ln.Close() }

func (l *tcpListener) setBalancer(b *balancer) { l.bal.Store(b) }

// serve accepts until the listener is closed. Each connection is owned by p.conns until it ends.
func (p *Proxy) serveTCP(l *tcpListener) {
	var backoff time.Duration
	for {
		c, err := l.ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait a little, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			p.log.Warn("accept failed", "listen", l.key.String(), "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if !p.conns.add(c) {
			c.Close() // shutting down
			return
		}
		go func() {
			defer p.conns.done(c)
			p.handleTCP(c, l.bal.Load())
		}()
	}
}

// handleTCP proxies one accepted connection: it dials an endpoint (the next one if that refuses)
// and copies bytes both ways until both sides have finished.
func (p *Proxy) handleTCP(client *net.TCPConn, bal *balancer) {
	p.stats.accepted.Add(1)
	from := addrOf(client.RemoteAddr())
	backend, err := p.dialEndpoint(bal, from)
	if err != nil {
		p.stats.rejected.Add(1)
		bal.countRejected()
		p.log.Debug("no endpoint took the connection", "service", bal.name, "client", from, "err", err)
		// A reset, as a port with no listener gives, rather than a clean close the client might
		// take for an empty answer.
		_ = client.SetLinger(0)
		client.Close()
		return
	}
	if !p.conns.add(backend) {
		p.pending.dec(addrOf(backend.RemoteAddr()))
		backend.Close()
		client.Close()
		return
	}
	defer p.conns.done(backend)
	p.relay(client, backend)
}

var errNoEndpoints = errors.New("no ready endpoints")

// dialEndpoint connects to an endpoint for a new connection from client: the one the balancer
// picks, and on failure (a refused connection, typically an endpoint whose process has just
// stopped) the next, up to maxDialAttempts endpoints. When every endpoint refused, it tries
// again after a short pause, for up to Options.RefusedRetry in all: a pod that is Ready but
// whose process is not listening yet (a container without a readiness probe) then costs a
// delay instead of a failed request. With no ready endpoint at all it fails at once.
func (p *Proxy) dialEndpoint(bal *balancer, client netip.Addr) (*net.TCPConn, error) {
	var tried [maxDialAttempts]netip.AddrPort
	var lastErr error = errNoEndpoints
	var deadline time.Time
	pause := 2 * time.Millisecond
	for {
		n := 0
		for ; n < maxDialAttempts; n++ {
			ep, ok := bal.pick(client, tried[:n])
			if !ok {
				break
			}
			p.pending.inc(ep.Addr()) // until the endpoint answers; see relay
			c, err := p.dialTCP(ep)
			if err == nil {
				bal.count(ep)
				return c, nil
			}
			bal.countDialError(ep)
			p.pending.dec(ep.Addr())
			p.stats.dialFailures.Add(1)
			p.log.Debug("endpoint refused, trying the next", "service", bal.name, "endpoint", ep, "err", err)
			tried[n] = ep
			lastErr = err
		}
		if n == 0 || !errors.Is(lastErr, syscall.ECONNREFUSED) {
			return nil, lastErr
		}
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(p.opts.RefusedRetry)
		}
		if !now.Add(pause).Before(deadline) {
			return nil, lastErr
		}
		time.Sleep(pause)
		pause *= 2
	}
}

func (p *Proxy) dialTCP(ep netip.AddrPort) (*net.TCPConn, error) {
	c, err := p.dialer.Dial("tcp", ep.String())
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// relay copies bytes between client and backend in both directions. When one side finishes
// sending (EOF), the other side's write half is closed, so half-closed protocols work; when a
// side fails (a reset), both connections are torn down, the other with a reset too. It returns
// when both directions are done, having closed both connections. The backend's connection stops
// being pending once its first bytes (or its end) arrive.
func (p *Proxy) relay(client, backend *net.TCPConn) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		pipe(backend, client)
	}()
	p.firstBytes(client, backend)
	pipe(client, backend)
	<-done
	client.Close()
	backend.Close()
}

// firstBytes copies the backend's first read to the client by hand, so that the connection
// stops counting as pending as soon as the backend has answered; the rest is spliced by pipe.
func (p *Proxy) firstBytes(client, backend *net.TCPConn) {
	defer p.pending.dec(addrOf(backend.RemoteAddr()))
	bp := firstBufs.Get().(*[]byte)
	defer firstBufs.Put(bp)
	buf := *bp
	n, err := backend.Read(buf)
	if n > 0 {
		if _, werr := client.Write(buf[:n]); werr != nil {
			err = werr
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		abort(client, backend)
	}
}

// pipe copies src to dst until src's EOF, then closes dst's write half. On an error it aborts
// both connections.
func pipe(dst, src *net.TCPConn) {
	_, err := io.Copy(dst, src)
	if err == nil {
		_ = dst.CloseWrite()
		return
	}
	abort(dst, src)
}

// abort tears both connections down with a reset.
func abort(a, b *net.TCPConn) {
	_ = a.SetLinger(0)
	_ = b.SetLinger(0)
	a.Close()
	b.Close()
}

func addrOf(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort().Addr().Unmap()
	}
	if u, ok := a.(*net.UDPAddr); ok {
		return u.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}
