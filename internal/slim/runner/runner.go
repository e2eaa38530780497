// Package runner starts containers on a Docker Engine for "shipshape slim":
// the traced run of the original image (sensor mounted read-only, only
// CAP_SYS_PTRACE added) and the verification run of the slimmed image, with
// exposed ports published on 127.0.0.1 only. The Engine API version is
// negotiated, so old and new engines both work.
package runner

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Spec describes a container to start.
type Spec struct {
	Image      string
	Name       string
	Entrypoint []string // nil: the image's
	User       string   // "": the image's
	CapAdd     []string
	Privileged bool
	// Binds are read-only bind mounts: host path → container path.
	Binds map[string]string
	// Ports are the container ports to publish ("8080/tcp").
	Ports []string
	// SecurityOpt are passed as is (seccomp=...).
	SecurityOpt []string
}

// Container is a started container.
type Container struct {
	cli *client.Client
	ID  string
	// Ports maps a container port ("8080/tcp") to "127.0.0.1:HOSTPORT".
	Ports map[string]string
}

// New connects to the Docker Engine from the environment (DOCKER_HOST …)
// or host when set, negotiating the API version.
func New(host string) (*client.Client, error) {
	opts := []client.Opt{client.FromEnv}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	cli, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	return cli, nil
}

// Start creates and starts a container.
func Start(ctx context.Context, cli *client.Client, s Spec) (*Container, error) {
	cfg := &container.Config{Image: s.Image, User: s.User, ExposedPorts: network.PortSet{}}
	if s.Entrypoint != nil {
		cfg.Entrypoint = s.Entrypoint
		cfg.Cmd = []string{}
	}
	hc := &container.HostConfig{CapAdd: s.CapAdd, Privileged: s.Privileged, PortBindings: network.PortMap{}, SecurityOpt: s.SecurityOpt}
	loopback := netip.MustParseAddr("127.0.0.1")
	for _, p := range s.Ports {
		port, err := network.ParsePort(p)
		if err != nil {
			return nil, fmt.Errorf("port %s: %w", p, err)
		}
		cfg.ExposedPorts[port] = struct{}{}
		hc.PortBindings[port] = []network.PortBinding{{HostIP: loopback}}
	}
	for host, ctr := range s.Binds {
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: host, Target: ctr, ReadOnly: true})
	}
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, HostConfig: hc, Name: s.Name})
	if err != nil {
		return nil, fmt.Errorf("docker: creating a container from %s: %w", s.Image, err)
	}
	c := &Container{cli: cli, ID: created.ID, Ports: map[string]string{}}
	if _, err := cli.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
		c.Remove(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("docker: starting %s: %w", s.Image, err)
	}
	insp, err := cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
	if err != nil {
		c.Remove(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("docker: inspecting %s: %w", c.ID, err)
	}
	if ns := insp.Container.NetworkSettings; ns != nil {
		for port, binds := range ns.Ports {
			for _, b := range binds {
				if b.HostPort != "" {
					c.Ports[port.String()] = "127.0.0.1:" + b.HostPort
					break
				}
			}
		}
	}
	return c, nil
}

// Create creates a container without starting it (to export its files).
func Create(ctx context.Context, cli *client.Client, imageRef, name string) (*Container, error) {
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{Image: imageRef, Entrypoint: []string{"/nonexistent"}, Cmd: []string{}}, Name: name,
	})
	if err != nil {
		return nil, fmt.Errorf("docker: creating a container from %s: %w", imageRef, err)
	}
	return &Container{cli: cli, ID: created.ID}, nil
}

// Export streams the container's flattened filesystem as a tar archive.
func (c *Container) Export(ctx context.Context) (io.ReadCloser, error) {
	rc, err := c.cli.ContainerExport(ctx, c.ID, client.ContainerExportOptions{})
	if err != nil {
		return nil, fmt.Errorf("docker: exporting %s: %w", c.ID, err)
	}
	return rc, nil
}

// SortedPorts returns the published container ports in order.
func (c *Container) SortedPorts() []string {
	var out []string
	for p := range c.Ports {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Addr is the host address a container port is published on.
func (c *Container) Addr(port string) string { return c.Ports[port] }

// Running reports whether the container still runs.
func (c *Container) Running(ctx context.Context) bool {
	insp, err := c.cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
	return err == nil && insp.Container.State != nil && insp.Container.State.Running
}

// Wait waits up to d for the container to exit and returns its exit code
// (-1 if it still runs).
func (c *Container) Wait(ctx context.Context, d time.Duration) int {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	w := c.cli.ContainerWait(ctx, c.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case r := <-w.Result:
		return int(r.StatusCode)
	case <-w.Error:
		return -1
	case <-ctx.Done():
		return -1
	}
}

// Stop sends SIGTERM, waits up to grace, then kills.
func (c *Container) Stop(ctx context.Context, grace time.Duration) {
	if !c.Running(ctx) {
		return
	}
	c.cli.ContainerKill(ctx, c.ID, client.ContainerKillOptions{Signal: "SIGTERM"})
	if c.Wait(ctx, grace) < 0 {
		c.cli.ContainerKill(ctx, c.ID, client.ContainerKillOptions{Signal: "SIGKILL"})
		c.Wait(ctx, 10*time.Second)
	}
}

// Remove force-removes the container.
func (c *Container) Remove(ctx context.Context) error {
	_, err := c.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	return err
}

// Exec runs argv in the container and returns its exit code and combined
// stdout and stderr (stdout first), bounded to max bytes each.
func (c *Container) Exec(ctx context.Context, user string, argv []string, timeout time.Duration) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ex, err := c.cli.ExecCreate(ctx, c.ID, client.ExecCreateOptions{User: user, Cmd: argv, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return -1, nil, fmt.Errorf("docker exec %q: %w", argv, err)
	}
	att, err := c.cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		return -1, nil, fmt.Errorf("docker exec %q: %w", argv, err)
	}
	var stdout, stderr bytes.Buffer
	_, err = stdcopy.StdCopy(&limited{&stdout, 1 << 20}, &limited{&stderr, 1 << 20}, att.Reader)
	att.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		return -1, nil, fmt.Errorf("docker exec %q: reading output: %w", argv, err)
	}
	for {
		insp, err := c.cli.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
		if err != nil {
			return -1, nil, fmt.Errorf("docker exec %q: %w", argv, err)
		}
		if !insp.Running {
			return insp.ExitCode, append(stdout.Bytes(), stderr.Bytes()...), nil
		}
		select {
		case <-ctx.Done():
			return -1, nil, fmt.Errorf("docker exec %q: %w", argv, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

type limited struct {
	b   *bytes.Buffer
	max int
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		if len(p) > room {
			l.b.Write(p[:room])
		} else {
			l.b.Write(p)
		}
	}
	return len(p), nil
}

// ReadFile copies one regular file (at most max bytes) out of the
// container; it works on stopped containers too.
func (c *Container) ReadFile(ctx context.Context, p string, max int64) ([]byte, error) {
	res, err := c.cli.CopyFromContainer(ctx, c.ID, client.CopyFromContainerOptions{SourcePath: p})
	if err != nil {
		return nil, fmt.Errorf("docker cp %s: %w", p, err)
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("docker cp %s: %w", p, err)
		}
		if h.Typeflag == tar.TypeReg {
			if h.Size > max {
				return nil, fmt.Errorf("docker cp %s: %d bytes, more than %d", p, h.Size, max)
			}
			return io.ReadAll(io.LimitReader(tr, max))
		}
	}
}

// Logs returns the last lines of the container's output.
func (c *Container) Logs(ctx context.Context) string {
	rc, err := c.cli.ContainerLogs(ctx, c.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "20"})
	if err != nil {
		return ""
	}
	defer rc.Close()
	var out bytes.Buffer
	stdcopy.StdCopy(&limited{&out, 8 << 10}, &limited{&out, 8 << 10}, rc)
	return strings.TrimSpace(out.String())
}
