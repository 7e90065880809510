// Command mongo-server runs FerretDB, a server that speaks MongoDB's wire protocol and keeps
// its data in SQLite, for loadwatch's `make run-mongo` and its tests on a real server.
//
// It embeds FerretDB's own package (github.com/FerretDB/FerretDB/ferretdb) at the version
// pinned in go.mod; telemetry is off there. It listens on the given address until SIGINT or
// SIGTERM, and keeps one SQLite file per database in the given folder.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	dataDir := flag.String("data-dir", ".data/ferretdb", "folder of the SQLite files")
	logLevel := flag.String("log-level", "error", "debug, info, warn or error")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "mongo-server: bad -log-level %q\n", *logLevel)
		os.Exit(2)
	}
	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "mongo-server: cannot create %s: %v\n", *dataDir, err)
		os.Exit(1)
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	server, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + *dataDir + "/",
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "mongo-server: %v\n", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Printf("mongo-server: FerretDB listening at %s, data in %s\n", server.MongoDBURI(), *dataDir)
	if err := server.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "mongo-server: %v\n", err)
		os.Exit(1)
	}
}
