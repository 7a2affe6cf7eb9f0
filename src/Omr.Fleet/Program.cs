using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Omr.Lab.Smtp;

namespace Omr.Fleet;

internal sealed class FleetOptions
{
    public int Hosts = 1000;
    public TimeSpan Latency = TimeSpan.FromMilliseconds(50);
    public TimeSpan TarpitDelay = TimeSpan.FromSeconds(5);
    public int Seed = 1;
    public string Mix = "open=10,closed=50,trick=24,greylist=6,drop=5,down=5";
    public double PipeliningShare = 0.9;
    public int Port;
    public int Net = 77;
    public int SharedDomains;
    public int SharedOpenDomains = 50;
    public int SharedLimit = 10;
    public string? OutDir;
    public string ProbeFrom = "omr-probe@example.org";
    public string ProbeRecipient = "relay-test@example.net";
    public bool InlineTruth = true;
    public bool WatchStdin = true;
    /// <summary>The most probing connections served at once (Test-OpenRelay -ThrottleLimit 1000, two connections per address).</summary>
    public int Clients = 2000;
}

/// <summary>
/// dotnet Omr.Fleet.dll [--hosts N] [--latency-ms L] [--seed S] [--mix kind=w,...] [--pipelining 0.9]
///   [--port P] [--net 77] [--shared-domains M] [--shared-open-domains 50] [--shared-limit 10]
///   [--tarpit-sec 5] [--out-dir DIR] [--no-inline-truth] [--no-stdin] [--clients 2000]
/// A latency fleet of SMTP servers on 127.NET.x.y (one port), plus DNS on 127.NET.254.1 (same port).
/// Prints one JSON manifest line; then reads stdin: a line "stats" prints one {"stats":...} line (counters
/// since the start or the last "reset" line, which zeroes them, forgets the greylisting triples and
/// answers {"reset":true});
/// EOF stops the fleet (it writes DIR/stats.json first).
/// Before it binds, it counts the file descriptors it needs (<see cref="DescriptorBudget"/>: --clients is
/// the most probing connections it must serve at once) and, when RLIMIT_NOFILE cannot hold them, says so.
/// Exit codes: 0 stopped, 1 cannot listen, 2 bad arguments, 3 not enough file descriptors.
/// With --state-db it writes a state database instead (<see cref="StateHistory"/>).
/// </summary>
public static class Program
{
    private const string Zone = "fleet.test";

    public static async Task<int> Main(string[] args)
    {
        if (args.Contains("--state-db")) return StateHistory.Run(args); // the Bench's provider-scale state database, no servers
        var o = new FleetOptions();
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException("missing value after " + args[i]);
                int Int() => int.Parse(Next(), CultureInfo.InvariantCulture);
                double Dbl() => double.Parse(Next(), NumberStyles.Float, CultureInfo.InvariantCulture);
                switch (args[i])
                {
                    case "--hosts": o.Hosts = Int(); break;
                    case "--latency-ms": o.Latency = TimeSpan.FromMilliseconds(Dbl()); break;
                    case "--tarpit-sec": o.TarpitDelay = TimeSpan.FromSeconds(Dbl()); break;
                    case "--seed": o.Seed = Int(); break;
                    case "--mix": o.Mix = Next(); break;
                    case "--pipelining": o.PipeliningShare = Dbl(); break;
                    case "--port": o.Port = Int(); break;
                    case "--net": o.Net = Int(); break;
                    case "--shared-domains": o.SharedDomains = Int(); break;
                    case "--shared-open-domains": o.SharedOpenDomains = Int(); break;
                    case "--shared-limit": o.SharedLimit = Int(); break;
                    case "--out-dir": o.OutDir = Next(); break;
                    case "--probe-from": o.ProbeFrom = Next(); break;
                    case "--probe-recipient": o.ProbeRecipient = Next(); break;
                    case "--no-inline-truth": o.InlineTruth = false; break;
                    case "--no-stdin": o.WatchStdin = false; break;
                    case "--clients": o.Clients = Int(); break;
                    case "-h" or "--help":
                        Console.WriteLine("usage: Omr.Fleet [--hosts N] [--latency-ms L] [--seed S] [--mix kind=w,...] [--pipelining share] [--port P] [--net 77] [--shared-domains M] [--shared-open-domains K] [--shared-limit C] [--tarpit-sec S] [--out-dir DIR] [--no-inline-truth] [--no-stdin] [--clients C]");
                        Console.WriteLine("kinds: open closed trick greylist tarpit drop down, or one trick: " + string.Join(" ", RelayTricks.Families.Select(f => f.Name)));
                        return 0;
                    default: throw new ArgumentException("unknown argument " + args[i]);
                }
            }
            if (o.Hosts < 0 || o.Hosts > 250 * 254) throw new ArgumentException("--hosts must be 0..63500");
            if (o.Net is < 1 or > 254) throw new ArgumentException("--net must be 1..254");
            if (o.Clients < 0) throw new ArgumentException("--clients must be 0 or more");
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine("Omr.Fleet: " + ex.Message);
            return 2;
        }

        using var stop = new CancellationTokenSource();
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });

        List<FleetServer> servers, shared;
        try { (servers, shared) = Build(o); }
        catch (ArgumentException ex) { Console.Error.WriteLine("Omr.Fleet: " + ex.Message); return 2; }
        if (FileLimit.Ensure(servers, shared, o.Clients) is { } tooFew)
        {
            Console.Error.WriteLine("Omr.Fleet: " + tooFew);
            return 3;
        }

        var smtp = new SmtpFleet(o, stop.Token);
        var all = servers.Concat(shared).ToList();
        try { smtp.Bind(all); }
        catch (System.Net.Sockets.SocketException ex)
        {
            Console.Error.WriteLine($"Omr.Fleet: cannot listen: {ex.Message} (fd limit? try ulimit -n; {all.Count} listeners)");
            return 1;
        }

        using var dns = new FleetDns(Zone);
        var dnsEndPoint = new IPEndPoint(IPAddress.Parse($"127.{o.Net}.254.1"), smtp.Port);
        foreach (var s in all) if (!s.Shared) { dns.AddMx(s.Identity.Domain, s.Identity.Host); dns.AddA(s.Identity.Host, s.Identity.Address); }
        var sharedDomains = new List<(string Domain, FleetServer Mx)>();
        if (shared.Count == 2)
        {
            for (int d = 0; d < o.SharedDomains; d++)
            {
                var mx = d < o.SharedOpenDomains ? shared[0] : shared[1];
                var name = $"s{d:D5}.{Zone}";
                sharedDomains.Add((name, mx));
                dns.AddMx(name, mx.Identity.Host);
                dns.AddA(mx.Identity.Host, mx.Identity.Address);
            }
        }
        try { dns.Start(dnsEndPoint); }
        catch (System.Net.Sockets.SocketException ex) { Console.Error.WriteLine("Omr.Fleet: DNS: " + ex.Message); return 1; }

        smtp.Start(all);

        var manifest = Manifest(o, smtp.Port, dnsEndPoint, servers, shared, sharedDomains);
        if (o.OutDir != null) WriteFiles(o, manifest, servers, sharedDomains);
        if (!o.InlineTruth) manifest.Remove("truth");
        Console.Out.WriteLine(manifest.ToJsonString());
        Console.Out.Flush();

        if (o.WatchStdin)
        {
            _ = Task.Run(() =>
            {
                try
                {
                    string? line;
                    while ((line = Console.In.ReadLine()) != null)
                    {
                        if (line.Trim().Equals("reset", StringComparison.OrdinalIgnoreCase))
                        {
                            foreach (var s in all)
                            {
                                Interlocked.Exchange(ref s.Connections, 0); Interlocked.Exchange(ref s.Refused, 0); Interlocked.Exchange(ref s.Rounds, 0);
                                Interlocked.Exchange(ref s.Commands, 0); Interlocked.Exchange(ref s.PeakActive, 0); Interlocked.Exchange(ref s.PeakPerClient, 0);
                            }
                            Interlocked.Exchange(ref dns.Queries, 0);
                            smtp.ResetGreylist();
                            Console.Out.WriteLine("{\"reset\":true}");
                            Console.Out.Flush();
                        }
                        else if (line.Trim().Equals("stats", StringComparison.OrdinalIgnoreCase))
                        {
                            var stats = new JsonObject { ["stats"] = Stats(all, dns) };
                            Console.Out.WriteLine(stats.ToJsonString());
                            Console.Out.Flush();
                        }
                    }
                }
                catch (IOException) { /* stdin gone */ }
                try { stop.Cancel(); } catch (ObjectDisposedException) { /* stopping */ }
            });
        }
        try { await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) { /* stop */ }
        if (o.OutDir != null) File.WriteAllText(Path.Combine(o.OutDir, "stats.json"), Stats(all, dns).ToJsonString());
        foreach (var s in all) s.Listener?.Dispose();
        return 0;
    }

    private static (List<FleetServer>, List<FleetServer>) Build(FleetOptions o)
    {
        // The mix: kind=weight; "trick" spreads over every variant; a variant name picks that one.
        var entries = new List<(Kind Kind, TrickFamily? Trick, double Weight)>();
        foreach (var part in o.Mix.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split('=', 2);
            var w = kv.Length == 2 ? double.Parse(kv[1], CultureInfo.InvariantCulture) : 1;
            var name = kv[0].ToLowerInvariant();
            if (name == "trick") { foreach (var t in RelayTricks.Families) entries.Add((Kind.Trick, t, w / RelayTricks.Families.Count)); }
            else if (RelayTricks.Family(name) is { } family) entries.Add((Kind.Trick, family, w));
            else if (Enum.TryParse<Kind>(name, true, out var k) && k != Kind.Trick) entries.Add((k, null, w));
            else throw new ArgumentException($"unknown kind '{kv[0]}' in --mix (kinds: open closed trick greylist tarpit drop down, or a trick: {string.Join(" ", RelayTricks.Families.Select(f => f.Name))})");
        }
        var total = entries.Sum(e => e.Weight);
        if (entries.Count == 0 || total <= 0) throw new ArgumentException("--mix has no positive weight");

        var rng = new Random(o.Seed);
        var servers = new List<FleetServer>(o.Hosts);
        for (int i = 0; i < o.Hosts; i++)
        {
            var x = rng.NextDouble() * total;
            var pick = entries[^1];
            foreach (var e in entries) { if (x < e.Weight) { pick = e; break; } x -= e.Weight; }
            bool pipelining = rng.NextDouble() < o.PipeliningShare;
            var address = $"127.{o.Net}.{i / 254}.{i % 254 + 1}";
            var domain = $"h{i:D5}.{Zone}";
            servers.Add(new FleetServer(i, pick.Kind, pick.Trick, new Identity(domain, "mx." + domain, address), pipelining, 0, false));
        }
        var shared = new List<FleetServer>();
        if (o.SharedDomains > 0)
        {
            shared.Add(new FleetServer(-1, Kind.Open, null, new Identity("shared." + Zone, "mx-open.shared." + Zone, $"127.{o.Net}.250.1"), true, o.SharedLimit, true));
            shared.Add(new FleetServer(-2, Kind.Closed, null, new Identity("shared." + Zone, "mx-closed.shared." + Zone, $"127.{o.Net}.250.2"), true, o.SharedLimit, true));
        }
        return (servers, shared);
    }

    private static string Expected(FleetServer s, string[] accepted) => s.Kind switch
    {
        Kind.Down or Kind.Drop => "Unreachable",
        Kind.Greylist => "Inconclusive",
        _ => accepted.Length > 0 ? "Open" : "Closed",
    };

    private static JsonObject Truth(FleetServer s, FleetOptions o)
    {
        var accepted = s.Kind is Kind.Open or Kind.Closed or Kind.Trick or Kind.Tarpit
            ? Battery.Accepted(s.Policy, s.Identity, o.ProbeFrom, o.ProbeRecipient) : Array.Empty<string>();
        var t = new JsonObject
        {
            ["address"] = s.Identity.Address,
            ["kind"] = s.Kind.ToString().ToLowerInvariant(),
            ["expected"] = Expected(s, accepted),
            ["accepted"] = new JsonArray(accepted.Select(a => (JsonNode)a).ToArray()),
            ["host"] = s.Identity.Host,
            ["domain"] = s.Identity.Domain,
            ["pipelining"] = s.Pipelining,
        };
        if (s.Policy.Trick != null) t["trick"] = s.Policy.Trick.Name;
        if (s.ConnectionLimit > 0) t["connectionLimit"] = s.ConnectionLimit;
        return t;
    }

    private static JsonObject Manifest(FleetOptions o, int port, IPEndPoint dns, List<FleetServer> servers, List<FleetServer> shared, List<(string Domain, FleetServer Mx)> sharedDomains)
    {
        var kinds = new JsonObject();
        foreach (var g in servers.GroupBy(s => s.Policy.Trick is null ? s.Kind.ToString().ToLowerInvariant() : "trick:" + s.Policy.Trick.Name).OrderBy(g => g.Key, StringComparer.Ordinal))
            kinds[g.Key] = g.Count();
        return new JsonObject
        {
            ["fleet"] = "Omr.Fleet",
            ["pid"] = Environment.ProcessId,
            ["port"] = port,
            ["dns"] = $"{dns.Address}:{dns.Port}",
            ["zone"] = Zone,
            ["hosts"] = servers.Count,
            ["latencyMs"] = o.Latency.TotalMilliseconds,
            ["tarpitSec"] = o.TarpitDelay.TotalSeconds,
            ["seed"] = o.Seed,
            ["mix"] = o.Mix,
            ["pipeliningShare"] = o.PipeliningShare,
            ["probeFrom"] = o.ProbeFrom,
            ["probeRecipient"] = o.ProbeRecipient,
            ["kinds"] = kinds,
            ["expectedCounts"] = Count(servers.Select(s => Expected(s, s.Kind is Kind.Open or Kind.Closed or Kind.Trick or Kind.Tarpit ? Battery.Accepted(s.Policy, s.Identity, o.ProbeFrom, o.ProbeRecipient) : Array.Empty<string>()))),
            ["shared"] = new JsonObject
            {
                ["limit"] = o.SharedLimit,
                ["hosts"] = new JsonArray(shared.Select(s => (JsonNode)Truth(s, o)).ToArray()),
                ["domains"] = sharedDomains.Count,
                ["openDomains"] = sharedDomains.Count(d => d.Mx.Kind == Kind.Open),
            },
            ["truth"] = new JsonArray(servers.Select(s => (JsonNode)Truth(s, o)).ToArray()),
        };
    }

    private static JsonObject Count(IEnumerable<string> values)
    {
        var o = new JsonObject();
        foreach (var g in values.GroupBy(v => v).OrderBy(g => g.Key, StringComparer.Ordinal)) o[g.Key] = g.Count();
        return o;
    }

    private static void WriteFiles(FleetOptions o, JsonObject manifest, List<FleetServer> servers, List<(string Domain, FleetServer Mx)> sharedDomains)
    {
        Directory.CreateDirectory(o.OutDir!);
        File.WriteAllLines(Path.Combine(o.OutDir!, "targets.txt"), servers.Select(s => s.Identity.Address));
        File.WriteAllLines(Path.Combine(o.OutDir!, "domains.txt"), servers.Select(s => s.Identity.Domain));
        File.WriteAllLines(Path.Combine(o.OutDir!, "shared-domains.txt"), sharedDomains.Select(d => d.Domain));
        File.WriteAllLines(Path.Combine(o.OutDir!, "shared-truth.csv"),
            new[] { "domain,mx,address,expected" }.Concat(sharedDomains.Select(d => $"{d.Domain},{d.Mx.Identity.Host},{d.Mx.Identity.Address},{(d.Mx.Kind == Kind.Open ? "Open" : "Closed")}")));
        File.WriteAllText(Path.Combine(o.OutDir!, "manifest.json"), manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    private static JsonObject Stats(List<FleetServer> all, FleetDns dns)
    {
        var byKind = new JsonObject();
        foreach (var g in all.Where(s => !s.Shared).GroupBy(s => s.Kind.ToString().ToLowerInvariant()).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            byKind[g.Key] = new JsonObject
            {
                ["servers"] = g.Count(),
                ["connections"] = g.Sum(s => Interlocked.Read(ref s.Connections)),
                ["rounds"] = g.Sum(s => Interlocked.Read(ref s.Rounds)),
                ["commands"] = g.Sum(s => Interlocked.Read(ref s.Commands)),
                ["active"] = g.Sum(s => Interlocked.Read(ref s.Active)),
            };
        }
        var shared = new JsonArray(all.Where(s => s.Shared).Select(s => (JsonNode)new JsonObject
        {
            ["address"] = s.Identity.Address,
            ["host"] = s.Identity.Host,
            ["kind"] = s.Kind.ToString().ToLowerInvariant(),
            ["limit"] = s.ConnectionLimit,
            ["connections"] = Interlocked.Read(ref s.Connections),
            ["refused"] = Interlocked.Read(ref s.Refused),
            ["rounds"] = Interlocked.Read(ref s.Rounds),
            ["peakActive"] = Interlocked.Read(ref s.PeakActive),
            ["peakPerClient"] = Interlocked.Read(ref s.PeakPerClient),
        }).ToArray());
        var listening = all.Where(s => !s.Shared).ToList();
        var byPipelining = new JsonObject();
        foreach (var g in listening.Where(s => s.Kind is Kind.Open or Kind.Closed or Kind.Trick).GroupBy(s => s.Pipelining ? "pipelining" : "plain"))
        {
            byPipelining[g.Key] = new JsonObject
            {
                ["servers"] = g.Count(),
                ["connections"] = g.Sum(s => Interlocked.Read(ref s.Connections)),
                ["rounds"] = g.Sum(s => Interlocked.Read(ref s.Rounds)),
                ["maxRounds"] = g.Max(s => Interlocked.Read(ref s.Rounds)),
            };
        }
        return new JsonObject
        {
            ["byPipelining"] = byPipelining,
            ["connections"] = listening.Sum(s => Interlocked.Read(ref s.Connections)),
            ["rounds"] = listening.Sum(s => Interlocked.Read(ref s.Rounds)),
            ["commands"] = listening.Sum(s => Interlocked.Read(ref s.Commands)),
            ["peakActive"] = listening.Count == 0 ? 0 : listening.Max(s => Interlocked.Read(ref s.PeakActive)),
            ["dnsQueries"] = Interlocked.Read(ref dns.Queries),
            ["byKind"] = byKind,
            ["shared"] = shared,
        };
    }
}
