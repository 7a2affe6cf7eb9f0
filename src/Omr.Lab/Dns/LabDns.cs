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

    /// <summary>Names whose every query gets SERVFAIL.</summary>
    public HashSet<string> ServerFailure { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Names whose queries are never answered (the client's timeout must bound them).</summary>
    public HashSet<string> Silent { get; } = new(StringComparer.OrdinalIgnoreCase);

    public bool IsServerFailure(DomainName name) => ServerFailure.Contains(Key(name));

    public bool IsSilent(DomainName name) => Silent.Contains(Key(name));

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
    /// <summary>An answer over TCP stops short of the 65,535-byte DNS message limit.</summary>
    private const int TcpAnswerBudget = 60000;
    private readonly LabZone _zone;
    private readonly DnsServer _server;
    private readonly CancellationTokenSource _stopping = new();
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

    private async Task OnQueryReceivedAsync(object sender, QueryReceivedEventArgs e)
    {
        if (e.Query is not DnsMessage query) return;
        if (query.Questions.Count == 1 && _zone.IsSilent(query.Questions[0].Name))
        {
            // Never answered: the query is held until the lab stops (then dropped with the socket).
            try { await Task.Delay(Timeout.Infinite, _stopping.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { /* stopping */ }
            return;
        }
        e.Response = Answer(query, e.TransportProtocol == TransportProtocol.Tcp);
    }

    internal DnsMessage Answer(DnsMessage query, bool tcp = false)
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
        if (_zone.IsServerFailure(q.Name))
        {
            response.ReturnCode = ReturnCode.ServerFailure;
            return response;
        }

        // CNAMEs are followed inside the zone (RFC 1034 4.3.2), each name once: a loop ends the
        // chain with the CNAMEs seen so far (the client must notice the loop).
        var name = q.Name;
        var visited = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        response.ReturnCode = ReturnCode.NoError;
        while (visited.Add(name.ToString(true).TrimEnd('.')))
        {
            if (!_zone.Exists(name))
            {
                // Closed world: everything that is not in the lab zone does not exist.
                response.ReturnCode = ReturnCode.NxDomain;
                response.AuthorityRecords.Add(_zone.ClosestSoa(name));
                return response;
            }
            var records = _zone.Get(name);
            var answers = records.Where(r => q.RecordType == RecordType.Any || r.RecordType == q.RecordType).ToList();
            if (answers.Count == 0 && records.OfType<CNameRecord>().FirstOrDefault() is { } cname)
            {
                response.AnswerRecords.Add(cname);
                name = cname.CanonicalName;
                continue;
            }
            if (answers.Count == 0)
            {
                response.AuthorityRecords.Add(_zone.ClosestSoa(name)); // NODATA
                return response;
            }
            AddAnswers(response, answers, tcp);
            return response;
        }
        return response;
    }

    private void AddAnswers(DnsMessage response, List<DnsRecordBase> answers, bool tcp)
    {
        var mxs = answers.OfType<MxRecord>().ToList();
        if (mxs.Count > 20)
        {
            // Thousands of MX records: no glue. Over UDP the server truncates (TC) and the client
            // asks again over TCP; over TCP as many as fit in one 64 KiB DNS message are sent, by
            // preference, the rest cannot be sent at all. (No TC over TCP: DnsClient rejects that
            // answer outright, "Unexpected truncated result from TCP response".)
            if (tcp)
            {
                var kept = new List<DnsRecordBase>();
                int size = 12 + 300;
                foreach (var mx in mxs.OrderBy(m => m.Preference))
                {
                    size += 2 + 10 + 2 + mx.ExchangeDomainName.Labels[0].Length + 1 + 2;
                    if (size > TcpAnswerBudget) break;
                    kept.Add(mx);
                }
                kept.Reverse(); // the client must sort by preference itself
                response.AnswerRecords.AddRange(kept);
            }
            else
            {
                response.AnswerRecords.AddRange(answers);
            }
            return;
        }
        response.AnswerRecords.AddRange(answers);
        foreach (var mx in mxs)
        {
            foreach (var glue in _zone.Get(mx.ExchangeDomainName).Where(r => r.RecordType is RecordType.A or RecordType.Aaaa))
                response.AdditionalRecords.Add(glue);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        _stopping.Cancel();
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

        // The verification mailbox's domain: its MX and its open backup MX.
        var noc = LabCatalog.VerifyDomain;
        zone.AddSoa(noc);
        zone.Add(new MxRecord(N(noc), LabZone.Ttl, 10, N(servers.First(s => s.Name == "mailbox").HostName)));
        zone.Add(new MxRecord(N(noc), LabZone.Ttl, 20, N(servers.First(s => s.Name == "mailbox-backup").HostName)));

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

        AddDnsFaults(zone, closed, open);
        AddBlocklists(zone, open, closed);
        return zone;
    }

    /// <summary>The lab's DNS blocklists (LabCatalog.Blocklist and its two broken siblings), with their RFC 5782 test points.</summary>
    private static void AddBlocklists(LabZone zone, LabServer open, LabServer closed)
    {
        DomainName N(string s) => DomainName.Parse(s);
        static string Q(string ip, string z) => string.Join(".", ip.Split('.').Reverse()) + "." + z;
        void Listing(string z, string ip, string code, string? text)
        {
            zone.Add(new ARecord(N(Q(ip, z)), LabZone.Ttl, IPAddress.Parse(code)));
            if (text != null) zone.Add(new TxtRecord(N(Q(ip, z)), LabZone.Ttl, text));
        }
        // A healthy zone: its test point, and the open server (127.0.0.1 and every other address: NXDOMAIN).
        Listing(LabCatalog.Blocklist, "127.0.0.2", "127.0.0.2", "Test point: always listed (RFC 5782)");
        Listing(LabCatalog.Blocklist, open.Address, "127.0.0.2", "Open relay seen by the lab blocklist, see https://dnsbl.omr-lab.test/lookup?ip=" + open.Address);
        // The closed server is listed too (for something else): only -BlocklistAll asks about a server that is not open.
        Listing(LabCatalog.Blocklist, closed.Address, "127.0.0.3", "Listed for spam sent, not for relaying");
        // Queried through a public or open resolver (as Spamhaus answers): 127.255.255.254 for everything.
        foreach (var ip in new[] { "127.0.0.2", "127.0.0.1", open.Address })
            Listing(LabCatalog.ResolverRefusingBlocklist, ip, "127.255.255.254", null);
        // A zone that never answers.
        foreach (var ip in new[] { "127.0.0.2", "127.0.0.1", open.Address })
        {
            zone.Add(new ARecord(N(Q(ip, LabCatalog.SilentBlocklist)), LabZone.Ttl, IPAddress.Parse("127.0.0.2")));
            zone.Silent.Add(Q(ip, LabCatalog.SilentBlocklist));
        }
    }

    /// <summary>How many MX records manymx.&lt;apex&gt; has (more than one DNS message can carry).</summary>
    public const int ManyMxCount = 5000;

    /// <summary>The address of manymx's i-th MX host (by preference): 127.66.1.1, 127.66.1.2, ... (nothing listens there).</summary>
    public static string ManyMxAddress(int i) =>
        "127.66." + (1 + i / 250).ToString(System.Globalization.CultureInfo.InvariantCulture) + "." + (1 + i % 250).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>DNS faults: SERVFAIL, silence, CNAME loops, MX at a CNAME or an IP, thousands of MX, shared addresses, IDN.</summary>
    private static void AddDnsFaults(LabZone zone, LabServer closed, LabServer open)
    {
        var apex = zone.Apex;
        DomainName N(string s) => DomainName.Parse(s);
        var closedIp = IPAddress.Parse(closed.Address);

        // SERVFAIL for every query of the name.
        var servfail = "servfail." + apex;
        zone.Add(new ARecord(N(servfail), LabZone.Ttl, closedIp));
        zone.ServerFailure.Add(servfail);

        // Never answered.
        var timeout = "timeout." + apex;
        zone.Add(new ARecord(N(timeout), LabZone.Ttl, closedIp));
        zone.Silent.Add(timeout);

        // a.loop -> b.loop -> a.loop, as a domain and as an MX target.
        var aLoop = "a.loop." + apex;
        var bLoop = "b.loop." + apex;
        zone.Add(new CNameRecord(N(aLoop), LabZone.Ttl, N(bLoop)));
        zone.Add(new CNameRecord(N(bLoop), LabZone.Ttl, N(aLoop)));
        var loopmx = "loopmx." + apex;
        zone.AddSoa(loopmx);
        zone.Add(new MxRecord(N(loopmx), LabZone.Ttl, 10, N(aLoop)));

        // MX at an alias (RFC 5321 5.1 says it must not be): alias.mx -> closed.mx.
        var cnamemx = "cnamemx." + apex;
        var alias = "alias.mx." + apex;
        zone.AddSoa(cnamemx);
        zone.Add(new MxRecord(N(cnamemx), LabZone.Ttl, 10, N(alias)));
        zone.Add(new CNameRecord(N(alias), LabZone.Ttl, N(closed.HostName)));

        // MX whose exchange is an IP address ("MX 10 127.66.0.2.") or a bracketed literal.
        var ipmx = "ipmx." + apex;
        zone.AddSoa(ipmx);
        zone.Add(new MxRecord(N(ipmx), LabZone.Ttl, 10, N(closed.Address)));
        var bracketmx = "bracketmx." + apex;
        zone.AddSoa(bracketmx);
        zone.Add(new MxRecord(N(bracketmx), LabZone.Ttl, 10, N("[" + closed.Address + "]")));

        // 5,000 MX records, each host with its own address (where nothing listens).
        var manymx = "manymx." + apex;
        zone.AddSoa(manymx);
        for (int i = 0; i < ManyMxCount; i++)
        {
            var host = "m" + i.ToString(System.Globalization.CultureInfo.InvariantCulture) + "." + manymx;
            zone.Add(new MxRecord(N(manymx), LabZone.Ttl, (ushort)(10 + i), N(host)));
            zone.Add(new ARecord(N(host), LabZone.Ttl, IPAddress.Parse(ManyMxAddress(i))));
        }

        // Two MX names with the same address, and a third with its own.
        var dupaddr = "dupaddr." + apex;
        zone.AddSoa(dupaddr);
        zone.Add(new MxRecord(N(dupaddr), LabZone.Ttl, 10, N("dup-a.mx." + apex)));
        zone.Add(new MxRecord(N(dupaddr), LabZone.Ttl, 20, N("dup-b.mx." + apex)));
        zone.Add(new MxRecord(N(dupaddr), LabZone.Ttl, 30, N(open.HostName)));
        zone.Add(new ARecord(N("dup-a.mx." + apex), LabZone.Ttl, closedIp));
        zone.Add(new ARecord(N("dup-b.mx." + apex), LabZone.Ttl, closedIp));

        // An internationalised domain: bücher.<apex> as its A-label.
        var idn = LabCatalog.IdnDomain;
        zone.AddSoa(idn);
        zone.Add(new MxRecord(N(idn), LabZone.Ttl, 10, N(closed.HostName)));
    }
}
