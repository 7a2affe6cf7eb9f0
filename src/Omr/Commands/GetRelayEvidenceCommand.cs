using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Omr.Engine;
using Omr.Engine.Evidence;

namespace Omr.Commands
{
    /// <summary>
    /// Finds the verification messages sent by Test-OpenRelay -Verify in the operator's mailbox (IMAP,
    /// POP3 or a mail-drop folder), matches them to the results and writes an evidence bundle for each
    /// delivered one. Emits one RelayEvidence per input result, always.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "RelayEvidence", DefaultParameterSetName = MailboxSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(RelayEvidence))]
    public sealed class GetRelayEvidenceCommand : MailServerCmdlet
    {
        private const string MailboxSet = "Mailbox";
        private const string MailDropSet = "MailDrop";
        private readonly List<(RelayTestResult Result, object? Input)> _inputs = new List<(RelayTestResult, object?)>();

        /// <summary>Results from Test-OpenRelay (live, Import-Clixml or ConvertFrom-Json).</summary>
        [Parameter(Mandatory = true, ValueFromPipeline = true)]
        [Alias("Result")]
        public PSObject[]? InputObject { get; set; }

        /// <summary>The IMAP or POP3 server of the verification mailbox.</summary>
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = MailboxSet)]
        [ValidateNotNullOrEmpty]
        [Alias("Server")]
        public string? MailServer { get; set; }

        /// <summary>Default: IMAP 143 (993 with SslOnConnect), POP3 110 (995 with SslOnConnect).</summary>
        [Parameter(ParameterSetName = MailboxSet)]
        [ValidateRange(1, 65535)]
        public override int Port { get; set; }

        [Parameter(ParameterSetName = MailboxSet)]
        public MailProtocol Protocol { get; set; } = MailProtocol.Imap;

        [Parameter(ParameterSetName = MailboxSet)]
        public override MailSecurity Security { get; set; } = MailSecurity.Auto;

        [Parameter(ParameterSetName = MailboxSet)]
        public override SwitchParameter SkipCertificateCheck { get; set; }

        [Parameter(ParameterSetName = MailboxSet)]
        [Credential]
        public override PSCredential? Credential { get; set; }

        /// <summary>IMAP folder to search (default INBOX).</summary>
        [Parameter(ParameterSetName = MailboxSet)]
        [ValidateNotNullOrEmpty]
        public string Folder { get; set; } = "INBOX";

        /// <summary>A folder of .eml files or a Maildir (new/, cur/), instead of a mailbox.</summary>
        [Parameter(Mandatory = true, ParameterSetName = MailDropSet)]
        [ValidateNotNullOrEmpty]
        public string? MailDrop { get; set; }

        /// <summary>Wait up to this many seconds for every expected message; 0 = look once.</summary>
        [Parameter]
        [ValidateRange(0, 86400)]
        public int WaitSec { get; set; }

        /// <summary>Folder under which one evidence bundle per delivered message is written.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? OutputPath { get; set; }

        /// <summary>Delete the matched messages from the mailbox after the evidence is written.</summary>
        [Parameter]
        public SwitchParameter Remove { get; set; }

        /// <summary>Move the matched messages to this IMAP folder after the evidence is written.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? MoveTo { get; set; }

        private string? _outputPath;
        private string? _mailDrop;

        protected override void BeginProcessing()
        {
            if (Remove.IsPresent && MoveTo != null)
                ThrowArgument("Use either -Remove or -MoveTo, not both.", "RemoveAndMoveTo", MoveTo);
            if (MoveTo != null && ParameterSetName == MailDropSet)
                ThrowArgument("-MoveTo needs an IMAP mailbox (-MailServer ... -Protocol Imap): a mail drop has no folders. Use -Remove to delete the matched files.", "MoveToNeedsImap", MoveTo);
            if (MoveTo != null && Protocol == MailProtocol.Pop3)
                ThrowArgument("-MoveTo needs -Protocol Imap: POP3 has no folders. Use -Remove to delete the matched messages.", "MoveToNeedsImap", MoveTo);
            if (ParameterSetName == MailboxSet && Protocol == MailProtocol.Pop3 && MyInvocation.BoundParameters.ContainsKey(nameof(Folder)) && !string.Equals(Folder, "INBOX", StringComparison.OrdinalIgnoreCase))
                ThrowArgument("-Folder needs -Protocol Imap: a POP3 mailbox has only its inbox.", "FolderNeedsImap", Folder);
            if (ParameterSetName == MailboxSet && Credential is null)
                ThrowArgument($"-Credential is required to read the mailbox on {MailServer}.", "CredentialMissing", MailServer);
            if (OutputPath != null)
                _outputPath = GetUnresolvedProviderPathFromPSPath(OutputPath);
            if (MailDrop != null)
                _mailDrop = GetUnresolvedProviderPathFromPSPath(MailDrop);
        }

        protected override void ProcessRecord()
        {
            foreach (var input in InputObject ?? Array.Empty<PSObject>())
            {
                if (input is null) continue;
                try
                {
                    _inputs.Add((ResultConverter.Convert(input), input));
                }
                catch (InvalidCastException ex)
                {
                    WriteError(new ErrorRecord(new InvalidDataException(ex.Message, ex), "InvalidResultObject", ErrorCategory.InvalidData, input)
                    {
                        ErrorDetails = new ErrorDetails(ex.Message) { RecommendedAction = "Pipe the results of Test-OpenRelay (live, or saved with Export-Clixml / ConvertTo-Json -Depth 6)." },
                    });
                }
            }
        }

        protected override void EndProcessing()
        {
            if (_inputs.Count == 0) return;
            var request = new EvidenceRequest
            {
                OutputPath = _outputPath,
                Wait = TimeSpan.FromSeconds(WaitSec),
                PollInterval = TimeSpan.FromSeconds(ParameterSetName == MailDropSet ? 0.5 : 3),
            };
            foreach (var i in _inputs) request.Inputs.Add(i);

            // The source's log lines and warnings come back as events on the collector's one channel.
            if (ParameterSetName == MailDropSet)
            {
                var drop = _mailDrop!;
                request.SourceFactory = messages => new MailDropSource(drop, messages.Verbose);
            }
            else
            {
                var settings = ServerSettings(new MailboxSettings
                {
                    Protocol = Protocol,
                    Folder = Folder,
                    Writable = Remove.IsPresent || MoveTo != null,
                }, MailServer!);
                request.SourceFactory = messages =>
                {
                    settings.Log = messages.Verbose;
                    settings.Warning = messages.Warning;
                    return MailboxSettings.CreateSource(settings);
                };
                if (SkipCertificateCheck.IsPresent)
                    WriteVerbose("-SkipCertificateCheck: the mail server's certificate is not checked.");
            }

            using var collector = new EvidenceCollector(request);
            var run = collector.Start(StopToken);
            // Shown at once (the engine reports more while it polls): the inputs may be many.
            WriteProgress(new ProgressRecord(2, "Get-RelayEvidence", $"Looking for {_inputs.Count} verification message(s)") { PercentComplete = 0 });
            var progress = true;
            var delivered = 0;
            try
            {
                Drain(collector, ref progress, ref delivered);
                Wait(collector, run);
                if (collector.Found.Count > 0 && (Remove.IsPresent || MoveTo != null))
                    Tidy(collector);
            }
            finally
            {
                if (progress)
                    WriteProgress(new ProgressRecord(2, "Get-RelayEvidence", "Done") { RecordType = ProgressRecordType.Completed });
                try { collector.CloseAsync(CancellationToken.None).Wait(TimeSpan.FromSeconds(5)); }
                catch (AggregateException) { /* closing is best effort */ }
            }
            WriteVerbose($"{delivered} of {_inputs.Count} verification messages delivered.");
        }

        /// <summary>Writes the collector's events (results, progress, verbose lines, warnings, errors) as they come, from its one channel.</summary>
        private void Drain(EvidenceCollector collector, ref bool progress, ref int delivered)
        {
            var reader = collector.Stream();
            while (true)
            {
                while (reader.TryRead(out var e))
                {
                    switch (e)
                    {
                        case EvidenceResultEvent r:
                            if (r.Evidence.Delivered) delivered++;
                            WriteObject(r.Evidence);
                            break;
                        case EvidenceProgressEvent p:
                            progress = true;
                            WriteProgress(new ProgressRecord(2, "Get-RelayEvidence", p.Status)
                            {
                                PercentComplete = p.Expected == 0 ? 100 : Math.Min(100, p.Found * 100 / p.Expected),
                                SecondsRemaining = p.SecondsLeft,
                                CurrentOperation = collector.SourceDescription ?? string.Empty,
                            });
                            break;
                        default:
                            WriteEngineEvent(e);
                            break;
                    }
                }
                if (reader.IsCompleted) break;
                try
                {
                    if (!reader.WaitToRead(StopToken)) break;
                }
                catch (OperationCanceledException)
                {
                    throw new PipelineStoppedException();
                }
            }
        }

        private void Wait(EvidenceCollector collector, Task run)
        {
            try
            {
                run.Wait(StopToken);
            }
            catch (OperationCanceledException)
            {
                throw new PipelineStoppedException();
            }
            if (!(collector.Stream().Fault is AggregateException fault)) return;
            var ex = Unwrap(fault);
            if (ex is OperationCanceledException) throw new PipelineStoppedException();
            ThrowTerminatingError(new ErrorRecord(ex, "EvidenceCollectionFailed", ErrorCategory.NotSpecified, null));
        }

        private void Tidy(EvidenceCollector collector)
        {
            var approved = new List<FoundMessage>();
            var action = Remove.IsPresent ? "Delete the verification message" : $"Move the verification message to '{MoveTo}'";
            foreach (var f in collector.Found.GroupBy(f => f.Item.Key).Select(g => g.First()))
            {
                var target = $"{f.Evidence.MessageId ?? f.Item.Key} in {collector.SourceDescription}";
                if (ShouldProcess(target, action)) approved.Add(f);
            }
            if (approved.Count == 0) return;
            try
            {
                var work = Remove.IsPresent ? collector.RemoveAsync(approved, StopToken) : collector.MoveAsync(approved, MoveTo!, StopToken);
                work.Wait(StopToken);
                work.GetAwaiter().GetResult();
                WriteVerbose($"{(Remove.IsPresent ? "Deleted" : "Moved")} {approved.Count} verification message(s).");
            }
            catch (OperationCanceledException)
            {
                throw new PipelineStoppedException();
            }
            catch (Exception ex) when (!(ex is PipelineStoppedException))
            {
                var inner = Unwrap(ex);
                var notFound = inner is MailSourceException { Kind: MailSourceErrorKind.FolderNotFound };
                var message = $"Could not {(Remove.IsPresent ? "delete" : "move")} the verification messages in {collector.SourceDescription}: {inner.Message}";
                WriteError(new ErrorRecord(new InvalidOperationException(message, inner), notFound ? "MailboxFolderNotFound" : Remove.IsPresent ? "MessageRemoveFailed" : "MessageMoveFailed",
                    notFound ? ErrorCategory.ObjectNotFound : ErrorCategory.WriteError, MoveTo ?? collector.SourceDescription));
            }
        }

        protected override string? RecommendedAction(string id) => id switch
        {
            "MailboxConnectFailed" => "Check -MailServer, -Port and -Security (use -SkipCertificateCheck only for self-signed test servers).",
            "MailboxAuthFailed" => "Check the user name and password in -Credential.",
            "MailboxFolderNotFound" => "Check -Folder (IMAP) or the -MailDrop path.",
            "EvidenceWriteFailed" => "Check that -OutputPath is writable.",
            _ => null,
        };
    }
}
