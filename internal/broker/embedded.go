package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startEmbedded runs nats-server in this process without any network
// listener: clients attach through in-process pipes, so a single-node
// deployment exposes no extra port and needs no auth setup.
func startEmbedded(dataDir string, log *slog.Logger) (*server.Server, error) {
	opts := &server.Options{
		ServerName: "kopir-embedded",
		DontListen: true,
		JetStream:  true,
		StoreDir:   filepath.Join(dataDir, "nats"),
		// The host process owns signal handling and its own lifecycle.
		NoSigs: true,
		// Default sync behaviour on purpose: every write reaches the OS page
		// cache (survives kill -9); fsync happens on the server's interval.
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("broker: embedded nats-server: %w", err)
	}
	srv.SetLoggerV2(&serverLogger{log: log.With("component", "nats-server")}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("broker: embedded nats-server not ready within 30s")
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		return nil, errors.New("broker: embedded nats-server started without JetStream (store dir unusable?)")
	}
	return srv, nil
}

// serverLogger routes nats-server's printf-style logging into slog so the
// embedded server's warnings end up in the bus's log stream.
type serverLogger struct{ log *slog.Logger }

func (l *serverLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Tracef(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }

// Fatalf must not exit the process: the bus decides how to react to a
// broker failure.
func (l *serverLogger) Fatalf(format string, v ...any) {
	l.log.Error("FATAL: " + fmt.Sprintf(format, v...))
}
