using System.Globalization;
using System.Runtime.InteropServices;

namespace Omr.Fleet;

/// <summary>
/// The file descriptors the fleet holds at once, counted before it binds: a listener per listening server,
/// the DNS server's two sockets, the probing connections it serves at the same time, and a margin for the
/// runtime itself (stdio, epoll, pipes, /dev/urandom and two per loaded assembly: about 85 at start, more
/// as assemblies load later; with none left, closing a socket fails to load System.Threading).
/// </summary>
internal sealed record DescriptorBudget(int Listeners, int Clients)
{
    /// <summary>The DNS server's UDP socket and TCP listener (its rare TCP clients fit in the runtime margin).</summary>
    public const int Dns = 2;
    public const int Runtime = 256;
    /// <summary>
    /// Connections one client holds at once to one server without a connection limit: Test-OpenRelay's
    /// default -MaxConnectionsPerAddress (its second connection to a server without PIPELINING); nmap holds one.
    /// A shared host holds at most its own limit per client (the bench's -MaxConnectionsPerAddress for them).
    /// </summary>
    public const int ClientsPerServer = 2;

    public int Total => Listeners + Dns + Clients + Runtime;

    /// <summary>
    /// For these servers, probed with at most <paramref name="maxClients"/> connections at once (the client's
    /// own limit: Test-OpenRelay's -ThrottleLimit workers hold up to two each), and never more than the servers
    /// can be holding between them.
    /// </summary>
    public static DescriptorBudget For(IEnumerable<FleetServer> servers, int maxClients)
    {
        var listening = servers.Where(s => s.Kind != Kind.Down).ToList();
        long holding = listening.Sum(s => (long)(s.ConnectionLimit > 0 ? s.ConnectionLimit : ClientsPerServer));
        return new DescriptorBudget(listening.Count, (int)Math.Min(maxClients, holding));
    }

    /// <summary>The most of <paramref name="servers"/> (the first ones, as a smaller --hosts builds them) that fit in <paramref name="limit"/> beside <paramref name="shared"/>.</summary>
    public static int MostServers(IReadOnlyList<FleetServer> servers, IReadOnlyList<FleetServer> shared, int maxClients, ulong limit)
    {
        bool Fits(int n) => (ulong)For(shared.Concat(servers.Take(n)), maxClients).Total <= limit;
        int lo = 0, hi = servers.Count;   // the total grows with n: the largest n that fits
        while (lo < hi)
        {
            int mid = lo + (hi - lo + 1) / 2;
            if (Fits(mid)) lo = mid; else hi = mid - 1;
        }
        return lo;
    }

    public override string ToString() =>
        $"{Listeners} listeners + {Dns} DNS sockets + {Clients} probing connections + {Runtime} for the runtime";
}

/// <summary>RLIMIT_NOFILE on Linux (elsewhere nothing is checked).</summary>
internal static class FileLimit
{
    private const int RLIMIT_NOFILE = 7;
    private const ulong Infinity = ulong.MaxValue;

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit { public ulong Cur, Max; }

    [DllImport("libc", SetLastError = true)]
    private static extern int getrlimit(int resource, out RLimit rlim);

    [DllImport("libc", SetLastError = true)]
    private static extern int setrlimit(int resource, ref RLimit rlim);

    /// <summary>The soft and hard limit, or null where they cannot be read.</summary>
    public static (ulong Soft, ulong Hard)? Get()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try { return getrlimit(RLIMIT_NOFILE, out var l) == 0 ? (l.Cur, l.Max) : null; }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException) { return null; }
    }

    /// <summary>Raises the soft limit to <paramref name="soft"/> (at most the hard limit); null, or why not.</summary>
    public static string? Raise(ulong soft, ulong hard)
    {
        var l = new RLimit { Cur = soft, Max = hard };
        return setrlimit(RLIMIT_NOFILE, ref l) == 0 ? null : Marshal.GetLastPInvokeErrorMessage();
    }

    /// <summary>
    /// Nothing when the fleet's descriptors fit under the soft limit, or under the hard limit once the soft one
    /// is raised to them (the .NET runtime already raises it to the hard limit at start on Linux); otherwise the
    /// message saying what it needs, the limits and what to do.
    /// </summary>
    public static string? Ensure(IReadOnlyList<FleetServer> servers, IReadOnlyList<FleetServer> shared, int maxClients)
    {
        if (Get() is not var (soft, hard)) return null;
        var need = DescriptorBudget.For(shared.Concat(servers), maxClients);
        ulong total = (ulong)need.Total;
        if (total <= soft) return null;
        string limits = $"RLIMIT_NOFILE is soft {Show(soft)}, hard {Show(hard)}";
        if (total <= hard)
        {
            return Raise(total, hard) is { } error
                ? $"{servers.Count} hosts need {total} file descriptors ({need}); {limits} and raising the soft limit failed: {error}."
                : null;
        }
        int fit = DescriptorBudget.MostServers(servers, shared, maxClients, hard);
        return $"{servers.Count} hosts need {total} file descriptors ({need}), but {limits}. "
            + $"Raise the limit (as root: ulimit -n {total}; LimitNOFILE= for a service, nofile in /etc/security/limits.conf) "
            + $"or run fewer hosts: {fit} fit (--hosts; the bench's -Hosts), or fewer probing connections at once (--clients).";
    }

    private static string Show(ulong v) => v == Infinity ? "unlimited" : v.ToString(CultureInfo.InvariantCulture);
}
