using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Omr.Lab.Rdap;

/// <summary>
/// An RDAP server on loopback that answers as the regional Internet registries do (RFC 9082/9083), for
/// Send-RelayNotice -NetworkAbuse -RdapServer: "/ip/{address}" at its root is a bootstrap redirector, and two
/// "registries" under /rir-a/ and /rir-b/ answer with ip network objects. What each lab network does:
/// <list type="bullet">
/// <item>127.66.0.0/24 (the lab's SMTP servers): 302 from the root to /rir-a/, which holds it ARIN-style: the abuse
/// contact nested in the registrant organisation's entities (abuse@noc.omr-lab.test).</item>
/// <item>127.66.2.0/24: answered at the root, RIPE-style: the abuse entity directly on the network (abuse@direct.omr-lab.test).</item>
/// <item>127.66.3.0/24: 404 (no such network). 127.66.4.0/24: 429 with Retry-After: 1 to the first query of each address, then the answer.</item>
/// <item>127.66.5.0/24: 429 with Retry-After: 3600 always. 127.66.6.0/24: a broken (truncated) body.</item>
/// <item>127.66.7.0/24: a network whose only entity is the registrant (no abuse role). 127.66.8.0/24: redirects to itself for ever.</item>
/// <item>127.66.9.0/24: an answer about another network (192.0.2.0/24). 127.66.10.0/24: 301 from /rir-a/ on to /rir-b/ (RIR to RIR), nested two deep.</item>
/// <item>127.66.11.0/24: 429 without a Retry-After, always.</item>
/// </list>
/// GET /_stats gives the queries per path (a JSON object), so tests can see the one query per network per run.
/// </summary>
public sealed class LabRdap : IDisposable
{
    public const string AbuseNested = "abuse@noc.omr-lab.test";
    public const string AbuseDirect = "abuse@direct.omr-lab.test";
    public const string AbuseMoved = "abuse@moved.omr-lab.test";

    private readonly HttpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, int> _queries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _throttled = new(StringComparer.Ordinal);

    private LabRdap(HttpListener listener, Uri baseUrl) { _listener = listener; BaseUrl = baseUrl; }

    /// <summary>The base URL to give -RdapServer ("http://127.66.1.43:port/").</summary>
    public Uri BaseUrl { get; }

    public static readonly IPAddress Address = IPAddress.Parse("127.66.1.43");

    public static LabRdap Start(int requestedPort, Action<string>? log)
    {
        Exception? last = null;
        for (int attempt = 0; attempt < (requestedPort == 0 ? 20 : 1); attempt++)
        {
            var port = requestedPort != 0 ? requestedPort : Random.Shared.Next(20000, 60000);
            var prefix = "http://" + Address + ":" + port.ToString(CultureInfo.InvariantCulture) + "/";
            var listener = new HttpListener();
            listener.Prefixes.Add(prefix);
            try
            {
                listener.Start();
            }
            catch (Exception ex) when (ex is HttpListenerException or SocketException)
            {
                last = ex;
                listener.Close();
                continue;
            }
            var server = new LabRdap(listener, new Uri(prefix));
            _ = Task.Run(() => server.LoopAsync(log));
            return server;
        }
        throw new InvalidOperationException($"Could not bind the lab RDAP server on {Address}: {last?.Message}", last);
    }

    private async Task LoopAsync(Action<string>? log)
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync().ConfigureAwait(false); }
            catch (Exception) { return; }
            _ = Task.Run(() =>
            {
                try { Answer(ctx, log); }
                catch (Exception ex) { log?.Invoke("rdap: " + ex.Message); }
                finally { try { ctx.Response.Close(); } catch (Exception) { /* client gone */ } }
            });
        }
    }

    private void Answer(HttpListenerContext ctx, Action<string>? log)
    {
        var path = ctx.Request.Url?.AbsolutePath ?? "/";
        log?.Invoke("rdap: GET " + path);
        var res = ctx.Response;
        if (path == "/_stats")
        {
            Write(res, 200, JsonSerializer.Serialize(_queries.ToDictionary(k => k.Key, k => k.Value)), "application/json");
            return;
        }
        _queries.AddOrUpdate(path, 1, (_, n) => n + 1);
        string registry;
        string rest;
        if (path.StartsWith("/rir-a/ip/", StringComparison.Ordinal)) { registry = "a"; rest = path["/rir-a/ip/".Length..]; }
        else if (path.StartsWith("/rir-b/ip/", StringComparison.Ordinal)) { registry = "b"; rest = path["/rir-b/ip/".Length..]; }
        else if (path.StartsWith("/ip/", StringComparison.Ordinal)) { registry = "root"; rest = path["/ip/".Length..]; }
        else { Error(res, 400, "bad request"); return; }
        if (!IPAddress.TryParse(Uri.UnescapeDataString(rest), out var ip) || ip.AddressFamily != AddressFamily.InterNetwork)
        {
            Error(res, 404, "not found");
            return;
        }
        var b = ip.GetAddressBytes();
        var net = b[0] == 127 && b[1] == 66 ? b[2] : -1;
        switch (net, registry)
        {
            case (0, "root"): Redirect(res, 302, "/rir-a/ip/" + ip); return;
            case (0, "a"): Write(res, 200, Network(ip, "OMR-LAB-NET", "127.66.0.0", "127.66.0.255", Nested("OMR-LAB-ORG", "ABUSE-OMR-LAB", AbuseNested))); return;
            case (2, "root"): Write(res, 200, Network(ip, "OMR-DIRECT-NET", "127.66.2.0", "127.66.2.255", Direct("ABUSE-DIRECT", AbuseDirect))); return;
            case (3, _): Error(res, 404, "Not Found"); return;
            case (4, _):
                if (_throttled.AddOrUpdate(ip.ToString(), 1, (_, n) => n + 1) == 1)
                {
                    res.AddHeader("Retry-After", "1");
                    Error(res, 429, "Too Many Requests");
                    return;
                }
                Write(res, 200, Network(ip, "OMR-SLOW-NET", "127.66.4.0", "127.66.4.255", Direct("ABUSE-SLOW", "abuse@slow.omr-lab.test")));
                return;
            case (5, _): res.AddHeader("Retry-After", "3600"); Error(res, 429, "Too Many Requests"); return;
            case (11, _): Error(res, 429, "Too Many Requests"); return;
            case (6, _): Write(res, 200, "{\"objectClassName\":\"ip network\",\"handle\":\"OMR-BROKEN\",\"entities\":[{\"roles\":[\"abuse\"],\"vcardArray\":[\"vcard\",[[\"email\",{}", "application/rdap+json"); return;
            case (7, _): Write(res, 200, Network(ip, "OMR-NOABUSE-NET", "127.66.7.0", "127.66.7.255", "[" + Entity("OMR-REG", "registrant", "registrant@noabuse.omr-lab.test", null) + "]")); return;
            case (8, _): Redirect(res, 302, "/ip/" + ip); return;
            case (9, _): Write(res, 200, Network(ip, "OTHER-NET", "192.0.2.0", "192.0.2.255", Direct("ABUSE-OTHER", "abuse@other.omr-lab.test"))); return;
            case (10, "root"): Redirect(res, 302, "/rir-a/ip/" + ip); return;
            case (10, "a"): Redirect(res, 301, "/rir-b/ip/" + ip); return;
            case (10, "b"):
                var deep = "[" + Entity("OMR-MOVED-ORG", "registrant", null, "[" + Entity("OMR-MOVED-NOC", "technical", "noc@moved.omr-lab.test", "[" + Entity("ABUSE-MOVED", "abuse", AbuseMoved, null) + "]") + "]") + "]";
                Write(res, 200, Network(ip, "OMR-MOVED-NET", "127.66.10.0", "127.66.10.255", deep));
                return;
            default: Error(res, 404, "Not Found"); return;
        }
    }

    private static string Network(IPAddress ip, string handle, string start, string end, string entities)
        => "{\"rdapConformance\":[\"rdap_level_0\",\"cidr0\"],\"objectClassName\":\"ip network\",\"handle\":\"" + handle + "\",\"name\":\"" + handle + "\",\"startAddress\":\"" + start
           + "\",\"endAddress\":\"" + end + "\",\"ipVersion\":\"v4\",\"type\":\"ASSIGNED PA\",\"entities\":" + entities
           + ",\"links\":[{\"value\":\"" + ip + "\",\"rel\":\"self\",\"href\":\"/ip/" + ip + "\"}]}";

    private static string Direct(string handle, string email) => "[" + Entity(handle, "abuse", email, null) + "]";

    private static string Nested(string org, string abuse, string email)
        => "[" + Entity(org, "registrant", null, "[" + Entity(abuse + "-TECH", "technical", "noc@" + email.Split('@')[1], null) + "," + Entity(abuse, "abuse", email, null) + "]") + "]";

    private static string Entity(string handle, string role, string? email, string? entities)
    {
        var sb = new StringBuilder("{\"objectClassName\":\"entity\",\"handle\":\"").Append(handle).Append("\",\"roles\":[\"").Append(role).Append("\"],\"vcardArray\":[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],[\"fn\",{},\"text\",\"")
            .Append(handle).Append("\"]");
        if (email != null) sb.Append(",[\"email\",{},\"text\",\"").Append(email).Append("\"]");
        sb.Append("]]");
        if (entities != null) sb.Append(",\"entities\":").Append(entities);
        return sb.Append('}').ToString();
    }

    private static void Redirect(HttpListenerResponse res, int status, string location)
    {
        res.StatusCode = status;
        res.RedirectLocation = location;
        res.ContentLength64 = 0;
    }

    private static void Error(HttpListenerResponse res, int status, string title)
        => Write(res, status, "{\"errorCode\":" + status.ToString(CultureInfo.InvariantCulture) + ",\"title\":\"" + title + "\"}", "application/rdap+json");

    private static void Write(HttpListenerResponse res, int status, string body, string type = "application/rdap+json")
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        res.StatusCode = status;
        res.ContentType = type;
        res.ContentLength64 = bytes.Length;
        res.OutputStream.Write(bytes);
    }

    public void Dispose()
    {
        _stop.Cancel();
        try { _listener.Stop(); _listener.Close(); } catch (ObjectDisposedException) { /* stopped */ }
        _stop.Dispose();
    }
}
