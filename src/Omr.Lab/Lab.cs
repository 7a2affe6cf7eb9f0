using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Encodings.Web;
using System.Text.Json;
using Omr.Lab.Dns;
using Omr.Lab.Smtp;

namespace Omr.Lab;

public sealed class LabOptions
{
    /// <summary>0 = find a free port usable on every lab address.</summary>
    public int SmtpPort { get; set; }
    /// <summary>0 = find a free port on 127.66.0.53 (UDP and TCP).</summary>
    public int DnsPort { get; set; }
    /// <summary>null = a new directory under the temp dir (not deleted on dispose).</summary>
    public string? MailDropPath { get; set; }
    public TimeSpan GreylistDelay { get; set; } = TimeSpan.FromSeconds(2);
    public TimeSpan TarpitDelay { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>Optional diagnostics sink (one line per event).</summary>
    public Action<string>? Log { get; set; }
}

/// <summary>One lab SMTP server as published in the manifest.</summary>
public sealed record LabServer(string Name, string Kind, string Address, string HostName, string Domain, string ExpectedVerdict, string[] ExpectedRelayedBy, string Description);

/// <summary>One lab domain; Expect lists "server:Verdict@preference" per exchanger address.</summary>
public sealed record LabDomain(string Name, string Description, string[] Expect);

/// <summary>The embedded test lab: many SMTP servers on 127.66.0.N / [::1] sharing one port, and an authoritative DNS server.</summary>
public sealed class Lab : IAsyncDisposable
{
    public static readonly IPAddress DnsAddress = IPAddress.Parse("127.66.0.53");
    private const int BindAttempts = 40;

    private readonly List<SmtpLabServer> _smtp;
    private readonly LabDns _dns;
    private readonly Rdap.LabRdap _rdap;
    private readonly X509Certificate2? _certificate;
    private int _disposed;

    private Lab(int smtpPort, LabDns dns, Rdap.LabRdap rdap, string mailDrop, List<SmtpLabServer> smtp, IReadOnlyList<LabServer> servers,
        IReadOnlyList<LabDomain> domains, X509Certificate2? certificate)
    {
        SmtpPort = smtpPort; _dns = dns; _rdap = rdap; MailDropPath = mailDrop; _smtp = smtp; Servers = servers; Domains = domains; _certificate = certificate;
    }

    /// <summary>The lab's RDAP server (as the RIRs answer, see <see cref="Rdap.LabRdap"/>), for Send-RelayNotice -RdapServer.</summary>
    public Uri RdapServer => _rdap.BaseUrl;

    /// <summary>The same port on every lab address (MX records carry no port).</summary>
    public int SmtpPort { get; }
    /// <summary>UDP and TCP.</summary>
    public IPEndPoint DnsEndPoint => _dns.EndPoint;
    /// <summary>Relays that deliver write accepted messages here as .eml.</summary>
    public string MailDropPath { get; }
    public IReadOnlyList<LabServer> Servers { get; }
    public IReadOnlyList<LabDomain> Domains { get; }

    /// <summary>The server called <paramref name="name"/>.</summary>
    public LabServer Server(string name) =>
        Servers.FirstOrDefault(s => s.Name == name) ?? throw new KeyNotFoundException("No lab server " + name);

    /// <summary>The SMTP endpoint of the server called <paramref name="name"/>.</summary>
    public IPEndPoint SmtpEndPoint(string name) => new(IPAddress.Parse(Server(name).Address), SmtpPort);

    public static async Task<Lab> StartAsync(LabOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.SmtpPort is < 0 or > 65535) throw new ArgumentOutOfRangeException(nameof(options), "SmtpPort out of range");
        if (options.DnsPort is < 0 or > 65535) throw new ArgumentOutOfRangeException(nameof(options), "DnsPort out of range");

        var specs = LabCatalog.Servers();
        var addresses = new List<IPAddress>();
        int next = 1;
        foreach (var spec in specs)
        {
            if (spec.IPv6) { addresses.Add(IPAddress.IPv6Loopback); continue; }
            if (next == 53) next++;
            addresses.Add(IPAddress.Parse("127.66.0." + next.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            next++;
        }

        var servers = new List<LabServer>();
        for (int i = 0; i < specs.Count; i++)
        {
            var spec = specs[i];
            servers.Add(new LabServer(spec.Name, spec.Kind, addresses[i].ToString(), LabCatalog.HostName(spec.Name), LabCatalog.DomainOf(spec.Name),
                spec.ExpectedVerdict, spec.ExpectedRelayedBy.ToArray(), spec.Description));
        }
        var zone = LabDns.BuildZone(servers);

        var mailDropPath = Path.GetFullPath(options.MailDropPath ?? Path.Combine(Path.GetTempPath(), "omr-lab-" + Guid.NewGuid().ToString("N")[..10]));
        var mailDrop = new MailDrop(mailDropPath);
        var tlsHost = LabCatalog.HostName("starttls-required");
        var certificate = await Task.Run(() => LabCertificate.Create(tlsHost), ct).ConfigureAwait(false);

        List<TcpListener>? listeners = null;
        LabDns? dns = null;
        Rdap.LabRdap? rdap = null;
        try
        {
            listeners = BindSmtp(addresses, options.SmtpPort, ct);
            int port = ((IPEndPoint)listeners[0].LocalEndpoint).Port;
            dns = StartDns(zone, options.DnsPort, options.Log, ct);
            rdap = Rdap.LabRdap.Start(0, options.Log);

            var runtime = new LabRuntime { MailDrop = mailDrop, Certificate = certificate, Log = options.Log };
            var smtp = new List<SmtpLabServer>();
            for (int i = 0; i < specs.Count; i++)
            {
                var identity = new ServerIdentity(specs[i].Name, specs[i].Kind, servers[i].HostName, servers[i].Domain, addresses[i]);
                smtp.Add(new SmtpLabServer(identity, specs[i].Behaviour(options), listeners[i], runtime));
            }

            var domains = servers.Select(s => new LabDomain(s.Domain, "MX 10 " + s.HostName + ": " + s.Description, [s.Name + ":" + s.ExpectedVerdict + "@10"]))
                .Concat(LabCatalog.ExtraDomains()).ToList();
            foreach (var s in smtp) s.Start();
            options.Log?.Invoke($"lab started: smtp port {port}, dns {dns.EndPoint}, mail drop {mailDropPath}");
            return new Lab(port, dns, rdap, mailDropPath, smtp, servers, domains, certificate);
        }
        catch
        {
            dns?.Dispose();
            rdap?.Dispose();
            if (listeners is not null) foreach (var l in listeners) StopQuietly(l);
            certificate.Dispose();
            throw;
        }
    }

    private static List<TcpListener> BindSmtp(List<IPAddress> addresses, int requestedPort, CancellationToken ct)
    {
        SocketException? last = null;
        for (int attempt = 0; attempt < (requestedPort == 0 ? BindAttempts : 1); attempt++)
        {
            ct.ThrowIfCancellationRequested();
            int port = requestedPort != 0 ? requestedPort : Random.Shared.Next(20000, 60000);
            var bound = new List<TcpListener>();
            try
            {
                foreach (var a in addresses)
                {
                    var l = new TcpListener(a, port);
                    if (a.AddressFamily == AddressFamily.InterNetworkV6) l.Server.DualMode = false;
                    bound.Add(l);
                    l.Start(128);
                }
                return bound;
            }
            catch (SocketException ex)
            {
                last = ex;
                foreach (var l in bound) StopQuietly(l);
            }
        }
        throw new InvalidOperationException($"Could not bind the lab SMTP port {(requestedPort == 0 ? "(random)" : requestedPort.ToString(System.Globalization.CultureInfo.InvariantCulture))} on every lab address: {last?.Message}", last);
    }

    private static LabDns StartDns(LabZone zone, int requestedPort, Action<string>? log, CancellationToken ct)
    {
        SocketException? last = null;
        for (int attempt = 0; attempt < (requestedPort == 0 ? BindAttempts : 1); attempt++)
        {
            ct.ThrowIfCancellationRequested();
            int port = requestedPort != 0 ? requestedPort : Random.Shared.Next(20000, 60000);
            try
            {
                return LabDns.Start(zone, new IPEndPoint(DnsAddress, port), log);
            }
            catch (SocketException ex)
            {
                last = ex;
            }
        }
        throw new InvalidOperationException($"Could not bind the lab DNS port on {DnsAddress}: {last?.Message}", last);
    }

    private static void StopQuietly(TcpListener l)
    {
        try { l.Stop(); l.Dispose(); } catch (SocketException) { /* ignored */ }
    }

    /// <summary>The manifest: one line of camelCase JSON.</summary>
    public string ToJson()
    {
        var manifest = new Manifest(SmtpPort, DnsEndPoint.Address + ":" + DnsEndPoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), RdapServer.AbsoluteUri, MailDropPath, Servers, Domains);
        return JsonSerializer.Serialize(manifest, JsonOptions);
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        WriteIndented = false,
    };

    private sealed record Manifest(int SmtpPort, string DnsServer, string RdapServer, string MailDrop, IReadOnlyList<LabServer> Servers, IReadOnlyList<LabDomain> Domains);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _dns.Dispose();
        _rdap.Dispose();
        await Task.WhenAll(_smtp.Select(s => s.DisposeAsync().AsTask())).ConfigureAwait(false);
        _certificate?.Dispose();
    }
}
