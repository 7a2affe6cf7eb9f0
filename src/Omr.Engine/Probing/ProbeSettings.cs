using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;

namespace Omr.Engine.Probing
{
    /// <summary>Everything that shapes how one address is probed.</summary>
    public sealed class ProbeSettings
    {
        public const string DefaultProbeFrom = "omr-probe@example.org";
        public const string DefaultProbeRecipient = "relay-test@example.net";

        public string ProbeFrom { get => _probeFrom; set { _probeFrom = value; _probe = null; } }
        public string ProbeRecipient { get => _probeRecipient; set { _probeRecipient = value; _probe = null; } }
        private string _probeFrom = DefaultProbeFrom;
        private string _probeRecipient = DefaultProbeRecipient;
        private ProbeContext? _probe;

        /// <summary>The probe addresses split once for the whole scan; <see cref="ProbeContext.For"/> adds each address.</summary>
        internal ProbeContext Probe => _probe ??= new ProbeContext(_probeFrom, _probeRecipient, string.Empty, string.Empty, string.Empty);
        /// <summary>Name announced in EHLO/HELO; null = this machine's FQDN, or the local address literal.</summary>
        public string? HeloName { get; set; }
        public TlsMode Tls { get; set; } = TlsMode.Auto;
        public IReadOnlyList<RelayTestDefinition> Tests { get; set; } = RelayTestCatalog.All;
        public bool StopOnFirst { get; set; }
        /// <summary>Deadline for one address (all its connections).</summary>
        public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(180);
        /// <summary>Zero = off; otherwise a battery with temporary refusals is re-run once after this delay.</summary>
        public TimeSpan GreylistRetry { get; set; } = TimeSpan.Zero;
        public SmtpLimits Limits { get; set; } = new SmtpLimits();
        /// <summary>Most tests in one pipelined group (3 commands each); the whole default battery fits one group.</summary>
        public int PipelineChunk { get; set; } = 32;
        /// <summary>Ports that speak TLS from the first byte (RFC 8314 submissions, 465).</summary>
        public ISet<int> ImplicitTlsPorts { get; set; } = new HashSet<int> { 465 };
        /// <summary>Most connections per address when the server keeps hanging up.</summary>
        public int MaxConnections { get; set; } = 30;

        public void Validate()
        {
            RelayTestTemplates.SplitAddress(ProbeFrom);
            RelayTestTemplates.SplitAddress(ProbeRecipient);
            if (Tests.Count == 0) throw new ArgumentException("At least one relay test must be selected.");
            if (Timeout <= TimeSpan.Zero) throw new ArgumentException("The timeout must be positive.");
        }
    }

    /// <summary>One address to probe and how it was found.</summary>
    public sealed class ProbeAddress
    {
        public ProbeAddress(string target, string? domain, string? host, IPAddress address, int port, int? preference)
            : this(target, domain, host, address, port, preference, null, null)
        {
        }

        public ProbeAddress(string target, string? domain, string? host, IPAddress address, int port, int? preference, IReadOnlyList<string>? mxHosts, bool? isMx)
        {
            Target = target; Domain = domain; Host = host; Address = address; Port = port; Preference = preference;
            MxHosts = mxHosts ?? Array.Empty<string>(); IsMx = isMx;
        }

        public string Target { get; }
        public string? Domain { get; }
        public string? Host { get; }
        public IPAddress Address { get; }
        public int Port { get; }
        public int? Preference { get; }
        /// <summary>The domain's MX host names this run (empty for hosts given directly).</summary>
        public IReadOnlyList<string> MxHosts { get; }
        /// <summary>True: the address came from the MX set; false: an earlier address tested again; null: given directly.</summary>
        public bool? IsMx { get; }

        /// <summary>Sets what a result says of where it was tested (target, domain, host, address, port, MX context); returns it.</summary>
        internal RelayTestResult Describe(RelayTestResult r)
        {
            r.Target = Target;
            r.Domain = Domain;
            r.ComputerName = Host ?? Address.ToString();
            r.Address = Address.ToString();
            r.Port = Port;
            r.Preference = Preference;
            r.MxHosts = MxHosts.ToArray();
            r.IsMxAddress = IsMx;
            return r;
        }
    }
}
