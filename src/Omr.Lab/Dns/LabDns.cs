using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;

namespace Omr.Lab.Dns;

/// <summary>The lab zone: owner name (lower case, no trailing dot) → records.</summary>
internal sealed class LabZone
{
    public const int Ttl = 30;
    public const int NegativeTtl = 5;
    private readonly Dictionary<string, List<DnsRecordBase>> _records = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _existing = new(StringComparer.OrdinalIgnoreCase);

    public LabZone(string apex) { Apex = apex; }

    public string Apex { get; }

    private static string Key(DomainName n) => n.ToString(true).TrimEnd('.').ToLowerInvariant();

    public void Add(DnsRecordBase record)
    {
        var key = Key(record.Name);
        if (!_records.TryGetValue(key, out var list)) _records[key] = list = new List<DnsRecordBase>();
        list.Add(record);
        // The owner and every ancestor up to the apex exist (empty non-terminals answer NODATA).
        for (var n = key; n.Length > 0;)
        {
            _existing.Add(n);
            if (n.Equals(Apex, StringComparison.OrdinalIgnoreCase)) break;
            int dot = n.IndexOf('.', StringComparison.Ordinal);
            if (dot < 0) break;
            n = n[(dot + 1)..];
        }
    }

    public void AddSoa(string owner) =>
        Add(new SoaRecord(DomainName.Parse(owner), Ttl, DomainName.Parse("ns." + Apex), DomainName.Parse("hostmaster." + Apex),
            2026010101, 3600, 600, 86400, NegativeTtl));

    public bool Exists(DomainName name) => _existing.Contains(Key(name));

    public IReadOnlyList<DnsRecordBase> Get(DomainName name) =>
        _records.TryGetValue(Key(name), out var list) ? list : Array.Empty<DnsRecordBase>();

    /// <summary>The SOA of the closest enclosing name that has one (the apex at worst).</summary>
    public SoaRecord ClosestSoa(DomainName name)
    {
        var key = Key(name);
        while (true)
        {
            if (_records.TryGetValue(key, out var list) && list.OfType<SoaRecord>().FirstOrDefault() is { } soa) return soa;
            int dot = key.IndexOf('.', StringComparison.Ordinal);
            if (dot < 0 || key.Equals(Apex, StringComparison.OrdinalIgnoreCase)) break;
            key = key[(dot + 1)..];
        }
        return _records[Apex].OfType<SoaRecord>().First();
    }
}

/// <summary>The lab's authoritative DNS server (ARSoft DnsServer, UDP + TCP on one endpoint).</summary>
internal sealed class LabDns : IDisposable
{
    private readonly LabZone _zone;
    private readonly DnsServer _server;
    private int _stopped;

    private LabDns(LabZone zone, DnsServer server, IPEndPoint endPoint)
    {
        _zone = zone; _server = server; EndPoint = endPoint;
    }

    public IPEndPoint EndPoint { get; }

    /// <summary>Binds UDP and TCP on <paramref name="endPoint"/>; throws SocketException when the port is taken.</summary>
    public static LabDns Start(LabZone zone, IPEndPoint endPoint, Action<string>? log)
    {
        var udp = new UdpServerTransport(endPoint, 5000);
        var tcp = new TcpServerTransport(endPoint, 5000, 10000);
        var server = new DnsServer(udp, tcp);
        var dns = new LabDns(zone, server, endPoint);
        server.QueryReceived += dns.OnQueryReceivedAsync;
        server.ExceptionThrown += (_, e) => { log?.Invoke("[dns] " + e.Exception.Message); return Task.CompletedTask; };
        try
        {
            server.Start();
        }
        catch
        {
            udp.Dispose();
            tcp.Dispose();
            throw;
        }
        return dns;
    }

    private Task OnQueryReceivedAsync(object sender, QueryReceivedEventArgs e)
    {
        if (e.Query is DnsMessage query) e.Response = Answer(query);
        return Task.CompletedTask;
    }

    internal DnsMessage Answer(DnsMessage query)
    {
        var response = query.CreateResponseInstance();
        response.IsAuthoritiveAnswer = true;
        response.IsRecursionAllowed = false;
        if (query.OperationCode != OperationCode.Query)
        {
            response.ReturnCode = ReturnCode.NotImplemented;
            return response;
        }
        if (query.Questions.Count != 1)
        {
            response.ReturnCode = ReturnCode.FormatError;
            return response;
        }
        var q = query.Questions[0];
        if (q.RecordClass is not (RecordClass.INet or RecordClass.Any))
        {
            response.ReturnCode = ReturnCode.Refused;
            return response;
        }
        if (!_zone.Exists(q.Name))
        {
            // Closed world: everything that is not in the lab zone does not exist.
            response.ReturnCode = ReturnCode.NxDomain;
            response.AuthorityRecords.Add(_zone.ClosestSoa(q.Name));
            return response;
        }
        var answers = _zone.Get(q.Name).Where(r => q.RecordType == RecordType.Any || r.RecordType == q.RecordType).ToList();
        response.ReturnCode = ReturnCode.NoError;
        if (answers.Count == 0)
        {
            response.AuthorityRecords.Add(_zone.ClosestSoa(q.Name)); // NODATA
            return response;
        }
        response.AnswerRecords.AddRange(answers);
        foreach (var mx in answers.OfType<MxRecord>())
        {
            foreach (var glue in _zone.Get(mx.ExchangeDomainName).Where(r => r.RecordType is RecordType.A or RecordType.Aaaa))
                response.AdditionalRecords.Add(glue);
        }
        return response;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        try { _server.Stop(); } catch (Exception ex) when (ex is SocketException or ObjectDisposedException or AggregateException) { /* ignored */ }
    }

    /// <summary>Builds the lab zone from the servers' names and addresses.</summary>
    public static LabZone BuildZone(IReadOnlyList<LabServer> servers)
    {
        var apex = LabCatalog.Zone;
        var zone = new LabZone(apex);
        DomainName N(string s) => DomainName.Parse(s);
        zone.AddSoa(apex);
        zone.Add(new NsRecord(N(apex), LabZone.Ttl, N("ns." + apex)));
        zone.Add(new ARecord(N("ns." + apex), LabZone.Ttl, Lab.DnsAddress));

        DnsRecordBase AddressRecord(string owner, string address)
        {
            var ip = IPAddress.Parse(address);
            return ip.AddressFamily == AddressFamily.InterNetworkV6
                ? new AaaaRecord(N(owner), LabZone.Ttl, ip)
                : new ARecord(N(owner), LabZone.Ttl, ip);
        }

        foreach (var s in servers)
        {
            zone.Add(AddressRecord(s.HostName, s.Address));
            zone.AddSoa(s.Domain);
            zone.Add(new MxRecord(N(s.Domain), LabZone.Ttl, 10, N(s.HostName)));
        }

        var closed = servers.First(s => s.Name == "closed");
        var open = servers.First(s => s.Name == "open");
        var ipv6 = servers.First(s => s.Name == "ipv6");

        var backup = "backup." + apex;
        zone.AddSoa(backup);
        zone.Add(new MxRecord(N(backup), LabZone.Ttl, 10, N(closed.HostName)));
        zone.Add(new MxRecord(N(backup), LabZone.Ttl, 20, N(open.HostName)));

        var nomx = "nomx." + apex;
        zone.AddSoa(nomx);
        zone.Add(AddressRecord(nomx, closed.Address));

        var nullmx = "nullmx." + apex;
        zone.AddSoa(nullmx);
        zone.Add(new MxRecord(N(nullmx), LabZone.Ttl, 0, DomainName.Root));

        var ipv6only = "ipv6only." + apex;
        zone.AddSoa(ipv6only);
        zone.Add(new MxRecord(N(ipv6only), LabZone.Ttl, 10, N(ipv6.HostName)));

        var dualstack = "dualstack." + apex;
        var dualHost = "dual.mx." + apex;
        zone.AddSoa(dualstack);
        zone.Add(new MxRecord(N(dualstack), LabZone.Ttl, 10, N(dualHost)));
        zone.Add(AddressRecord(dualHost, closed.Address));
        zone.Add(AddressRecord(dualHost, ipv6.Address));

        var dangling = "dangling." + apex;
        zone.AddSoa(dangling);
        zone.Add(new MxRecord(N(dangling), LabZone.Ttl, 10, N("missing.mx." + apex)));

        // Contact discovery (Send-RelayNotice). Every SOA's RNAME is hostmaster.<apex>: the apex
        // receives mail (MX = the closed server), so hostmaster@omr-lab.test is a usable contact.
        zone.Add(new MxRecord(N(apex), LabZone.Ttl, 10, N(closed.HostName)));
        // contacts.<apex>: RNAME with an escaped dot in the local part -> john.doe@omr-lab.test.
        var contacts = "contacts." + apex;
        zone.Add(new SoaRecord(N(contacts), LabZone.Ttl, N("ns." + apex), DomainName.Parse("john\\.doe." + apex),
            2026010101, 3600, 600, 86400, LabZone.NegativeTtl));
        zone.Add(new MxRecord(N(contacts), LabZone.Ttl, 10, N(closed.HostName)));
        // nocontact.<apex>: null MX, and its RNAME is in the null-MX domain: nobody can be told.
        var nocontact = "nocontact." + apex;
        zone.Add(new SoaRecord(N(nocontact), LabZone.Ttl, N("ns." + apex), N("hostmaster." + nullmx),
            2026010101, 3600, 600, 86400, LabZone.NegativeTtl));
        zone.Add(new MxRecord(N(nocontact), LabZone.Ttl, 0, DomainName.Root));
        return zone;
    }
}
