using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Omr.Engine.Notices;
using Omr.Engine.Rules;

namespace Omr.Engine.Evidence
{
    /// <summary>
    /// The evidence objects this process's engine produced itself (Get-RelayEvidence), with a fingerprint of the
    /// fields that carry trust (proof, identity, bundle paths). Anything else — deserialized (Import-Clixml,
    /// ConvertFrom-Json, remoting), hashtables, objects built by hand with [Omr.RelayEvidence]@{...}, or a minted
    /// object edited afterwards — is a claim: <see cref="EvidenceVerifier"/> checks it against its bundle on disk.
    /// </summary>
    public static class EvidenceRegistry
    {
        private static readonly ConditionalWeakTable<RelayEvidence, string> Minted = new ConditionalWeakTable<RelayEvidence, string>();
        private static readonly object Gate = new object();

        /// <summary>Records <paramref name="evidence"/> as produced by this engine, as it is now. Internal: only the engine mints.</summary>
        internal static RelayEvidence Mint(RelayEvidence evidence)
        {
            if (evidence is null) throw new ArgumentNullException(nameof(evidence));
            var fp = Fingerprint(evidence);
            lock (Gate)
            {
                Minted.Remove(evidence);
                Minted.Add(evidence, fp);
            }
            return evidence;
        }

        /// <summary>True when this engine produced this very object and none of its trust-carrying fields changed since.</summary>
        public static bool IsMinted(RelayEvidence? evidence)
        {
            if (evidence is null) return false;
            string? fp;
            lock (Gate)
            {
                if (!Minted.TryGetValue(evidence, out fp)) return false;
            }
            return string.Equals(fp, Fingerprint(evidence), StringComparison.Ordinal);
        }

        private static string Fingerprint(RelayEvidence ev)
        {
            var r = ev.Result;
            var parts = new List<string?>
            {
                ev.ProbeId, ev.Delivered ? "1" : "0", ev.Proof.ToString(), ev.ComputerName, ev.Address, ev.Port.ToString(CultureInfo.InvariantCulture), ev.Domain,
                ev.MessageId, ev.BundlePath, ev.RelaySeen ? "1" : "0",
                r is null ? "-" : RuntimeHelpers.GetHashCode(r).ToString(CultureInfo.InvariantCulture),
                r?.ProbeId, r?.Proof.ToString(), r?.Verdict.ToString(), r?.Address, r?.ComputerName, r?.Domain, r?.Port.ToString(CultureInfo.InvariantCulture),
                r?.VerificationMessageId, r?.VerificationReply,
            };
            parts.AddRange(ev.Files ?? Array.Empty<string>());
            parts.Add("|hops");
            parts.AddRange((ev.Hops ?? Array.Empty<ReceivedHop>()).Select(h => h?.Raw));
            var sb = new StringBuilder();
            foreach (var p in parts)
            {
                // Length-prefixed: no two different field lists give the same text.
                var s = p ?? "\u0000null";
                sb.Append(s.Length.ToString(CultureInfo.InvariantCulture)).Append(':').Append(s).Append(';');
            }
            return sb.ToString();
        }
    }

    /// <summary>The files of one verified evidence bundle, read once: these bytes, and only these, may be attached.</summary>
    public sealed class VerifiedBundle
    {
        internal VerifiedBundle(string folder, byte[] transcript, byte[] message, byte[] json)
        {
            Folder = folder; Transcript = transcript; Message = message; Json = json;
        }

        /// <summary>The bundle folder's full path.</summary>
        public string Folder { get; }
        public byte[] Transcript { get; }
        public byte[] Message { get; }
        public byte[] Json { get; }
    }

    /// <summary>The outcome of reading a bundle: the verified files, or the problem (one short phrase first: "bundle missing", "hash mismatch for message.eml", ...).</summary>
    public sealed class BundleCheck
    {
        internal BundleCheck(VerifiedBundle? bundle, string? problem, IReadOnlyList<string> ignored)
        {
            Bundle = bundle; Problem = problem; Ignored = ignored;
        }

        public VerifiedBundle? Bundle { get; }
        public string? Problem { get; }
        /// <summary>Paths named by the input that are not files of the bundle (never read).</summary>
        public IReadOnlyList<string> Ignored { get; }
        public bool Ok => Bundle != null;
    }

    /// <summary>
    /// Checks evidence that the engine did not produce itself against its bundle on disk, and is the only reader of
    /// bundle files for attachments. A bundle is its folder (BundlePath, else the one folder all Files are in) and
    /// only its known files directly inside it (transcript.log, message.eml, evidence.json, report.html): no "..",
    /// no symbolic links or other reparse points (the folder or a file), evidence.json must name the same probe id,
    /// record a delivery and carry SHA-256 hashes that match message.eml and transcript.log (and report.html when
    /// present); message.eml must carry the probe id in its headers. No input property can make the module read
    /// any other file.
    /// </summary>
    public static class EvidenceVerifier
    {
        /// <summary>The files a bundle consists of; nothing else is ever read from it.</summary>
        public static readonly IReadOnlyList<string> KnownFiles = new[]
        {
            EvidenceBundleWriter.TranscriptFile, EvidenceBundleWriter.MessageFile, EvidenceBundleWriter.JsonFile, EvidenceBundleWriter.ReportFile,
        };

        /// <summary>evidence.json larger than this is not a bundle Omr wrote.</summary>
        public const long MaxJsonBytes = 16L * 1024 * 1024;

        /// <summary>Default bound of one file read from a bundle.</summary>
        public const long DefaultMaxFileBytes = 25L * 1024 * 1024 + 1024 * 1024;

        /// <summary>
        /// The evidence as far as it can be shown: <paramref name="evidence"/> itself when the engine minted it or its
        /// Delivered claim is backed by a verified bundle; otherwise a copy downgraded to what the result's other facts
        /// support (DataAccepted, RecipientAccepted or None), without bundle paths, its Reason saying why.
        /// </summary>
        public static RelayEvidence Vet(RelayEvidence evidence)
        {
            if (evidence is null) throw new ArgumentNullException(nameof(evidence));
            if (EvidenceRegistry.IsMinted(evidence)) return evidence;
            var claim = evidence.Delivered ? RelayProof.Delivered : evidence.Proof;
            if (claim == RelayProof.Delivered)
            {
                var check = ReadBundle(evidence, DefaultMaxFileBytes);
                if (check.Ok && evidence.Proof == RelayProof.Delivered && evidence.Delivered)
                {
                    // A verified bundle is still a claim about relaying: its message must show the hand-off.
                    var local = NotHandedOn(evidence, check.Bundle!);
                    if (local is null) return evidence;
                    var left = Supported(evidence.Result, EvidenceCollector.LocalProof(evidence.Result ?? new RelayTestResult()));
                    return Downgrade(evidence, left, $"the Delivered proof of this input is no proof of relaying: {local}; Proof lowered to {left}");
                }
                var problem = check.Problem ?? "Delivered and Proof disagree";
                var supported = Supported(evidence.Result, RelayProof.DataAccepted);
                return Downgrade(evidence, supported,
                    $"the Delivered proof of this input could not be verified: {problem}; Proof lowered to {supported}");
            }
            var shown = Supported(evidence.Result, claim);
            if (shown == claim && evidence.BundlePath is null && (evidence.Files is null || evidence.Files.Length == 0)) return evidence;
            return Downgrade(evidence, shown,
                shown == claim ? evidence.Reason
                    : $"the input's proof {claim} is not supported by its relay test result; Proof lowered to {shown}");
        }

        /// <summary>Why the bundle's message does not show the tested server handing it on, or null when it does.</summary>
        private static string? NotHandedOn(RelayEvidence evidence, VerifiedBundle bundle)
        {
            MimeKit.HeaderList headers;
            try { headers = MailConnect.ParseHeaders(bundle.Message); }
            catch (FormatException) { return "message.eml is not a message"; }
            var r = evidence.Result ?? new RelayTestResult();
            var decision = RelayHandOff.Decide(ReceivedChainParser.Parse(headers), evidence.Address ?? r.Address, EvidenceCollector.TestedNames(r), RelayHandOff.HeloOf(r.Transcript));
            return decision.Relayed ? null : decision.Explanation;
        }

        /// <summary>The strongest proof a (re-imported) result's own facts show, at most <paramref name="cap"/>.</summary>
        public static RelayProof Supported(RelayTestResult? r, RelayProof cap)
        {
            if (r is null) return RelayProof.None;
            var proof = RelayProof.None;
            if ((r.Tests ?? Array.Empty<RelayTestOutcome>()).Any(t => t != null && t.Accepted) || (r.RelayedBy?.Length ?? 0) > 0)
                proof = RelayProof.RecipientAccepted;
            if (proof == RelayProof.RecipientAccepted && !string.IsNullOrEmpty(r.VerificationMessageId)
                && (r.VerificationReply ?? string.Empty).TrimStart().StartsWith("250", StringComparison.Ordinal))
                proof = RelayProof.DataAccepted;
            if (proof > r.Proof) proof = r.Proof;
            return proof > cap ? cap : proof;
        }

        private static RelayEvidence Downgrade(RelayEvidence ev, RelayProof proof, string? reason)
        {
            var copy = new RelayEvidence
            {
                Result = EvidenceCollector.Copy(ev.Result ?? new RelayTestResult()),
                ProbeId = ev.ProbeId ?? string.Empty,
                ComputerName = ev.ComputerName,
                Address = ev.Address,
                Port = ev.Port,
                Domain = ev.Domain,
                Delivered = false,
                Proof = proof,
                ReceivedAt = ev.ReceivedAt,
                MessageId = ev.MessageId,
                Subject = ev.Subject,
                MatchedBy = ev.MatchedBy,
                MailSource = ev.MailSource,
                Hops = ev.Hops ?? Array.Empty<ReceivedHop>(),
                RelaySeen = ev.RelaySeen,
                Files = Array.Empty<string>(),
                BundlePath = null,
                Reason = reason,
            };
            if (copy.Result.Proof > proof) copy.Result.Proof = proof;
            return copy;
        }

        /// <summary>The bundle folder an input names: BundlePath, else the single folder its Files are in; null when none.</summary>
        private static string? FolderOf(RelayEvidence ev, out string? problem)
        {
            problem = null;
            if (!string.IsNullOrWhiteSpace(ev.BundlePath)) return ev.BundlePath;
            var dirs = (ev.Files ?? Array.Empty<string>()).Where(f => !string.IsNullOrWhiteSpace(f)).Select(f => SafeDirectoryName(f)).Distinct(StringComparer.Ordinal).ToList();
            if (dirs.Count == 1 && dirs[0] != null) return dirs[0];
            if (dirs.Count > 1) problem = "bundle missing (the Files are not in one folder)";
            return null;
        }

        private static string? SafeDirectoryName(string path)
        {
            try { return Path.GetDirectoryName(path); }
            catch (ArgumentException) { return null; }
        }

        private static bool HasDotDot(string path)
            => path.Split('/', '\\').Any(p => p == "..");

        private static bool IsLink(FileSystemInfo info) => (info.Attributes & FileAttributes.ReparsePoint) != 0;

        /// <summary>Reads and verifies the bundle an input names. Never throws for a bad input; never reads a file outside the bundle.</summary>
        public static BundleCheck ReadBundle(RelayEvidence evidence, long maxFileBytes)
        {
            if (evidence is null) throw new ArgumentNullException(nameof(evidence));
            var ignored = new List<string>();
            var folder = FolderOf(evidence, out var folderProblem);
            if (folder is null) return Fail(folderProblem ?? "bundle missing (no evidence bundle was written for this host)", ignored);
            if (HasDotDot(folder)) return Fail("bundle path refused (it contains '..')", ignored);
            string full;
            DirectoryInfo dir;
            try
            {
                full = Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
                dir = new DirectoryInfo(full);
                if (!dir.Exists) return Fail($"bundle missing (no folder {NoticeText.OneLine(full, 300)})", ignored);
                if (IsLink(dir)) return Fail("bundle path refused (the folder is a symbolic link or reparse point)", ignored);
            }
            catch (Exception ex) when (ex is ArgumentException || ex is NotSupportedException || ex is IOException || ex is UnauthorizedAccessException || ex is System.Security.SecurityException)
            {
                return Fail("bundle missing (" + NoticeText.OneLine(ex.Message, 200) + ")", ignored);
            }

            // Files the input names that are not the bundle's own files are never read.
            foreach (var f in evidence.Files ?? Array.Empty<string>())
            {
                if (string.IsNullOrWhiteSpace(f)) continue;
                string? name = null;
                try
                {
                    if (!HasDotDot(f))
                    {
                        var fp = Path.GetFullPath(f);
                        if (string.Equals(Path.GetDirectoryName(fp), full, StringComparison.Ordinal)) name = Path.GetFileName(fp);
                    }
                }
                catch (Exception ex) when (ex is ArgumentException || ex is NotSupportedException || ex is PathTooLongException) { }
                if (name is null || !KnownFiles.Contains(name, StringComparer.Ordinal)) ignored.Add(NoticeText.OneLine(f, 300));
            }

            var json = ReadOne(full, EvidenceBundleWriter.JsonFile, Math.Min(MaxJsonBytes, maxFileBytes), out var why);
            if (json is null) return Fail(why!, ignored);
            var hashes = new Dictionary<string, (string Sha, double? Bytes)>(StringComparer.Ordinal);
            try
            {
                new UTF8Encoding(false, true).GetCharCount(json); // strict UTF-8, as written
                using var parsed = JsonFiles.Parse(json);
                var doc = parsed.RootElement;
                if (doc.ValueKind != JsonValueKind.Object) throw new FormatException("not a JSON object");
                if (doc.Str("schema") != "omr-evidence/1")
                    return Fail("evidence.json is not an Omr evidence file (schema)", ignored);
                var p = doc.Str("probeId");
                if (!(p != null && string.Equals(p, evidence.ProbeId, StringComparison.Ordinal) && p.Length > 0))
                    return Fail("probe id differs (evidence.json names " + NoticeText.OneLine(p ?? "none", 100) + ")", ignored);
                if (doc.Get("delivered", JsonValueKind.True) is null)
                    return Fail("evidence.json does not record a delivery", ignored);
                if (doc.Get("files", JsonValueKind.Array) is JsonElement list)
                {
                    foreach (var item in list.EnumerateArray().Where(i => i.ValueKind == JsonValueKind.Object))
                    {
                        if (item.Str("name") is string ns && item.Str("sha256") is string hs && !hashes.ContainsKey(ns))
                            hashes[ns] = (hs, item.Num("bytes"));
                    }
                }
            }
            catch (Exception ex) when (ex is FormatException || ex is JsonException || ex is DecoderFallbackException || ex is ArgumentException)
            {
                return Fail("evidence.json is not valid (" + NoticeText.OneLine(ex.Message, 200) + ")", ignored);
            }

            var bytes = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            foreach (var name in new[] { EvidenceBundleWriter.MessageFile, EvidenceBundleWriter.TranscriptFile, EvidenceBundleWriter.ReportFile })
            {
                var required = name != EvidenceBundleWriter.ReportFile;
                if (!hashes.TryGetValue(name, out var expected))
                {
                    if (required) return Fail($"hash missing for {name} (evidence.json lists no SHA-256 for it)", ignored);
                    if (File.Exists(Path.Combine(full, name)) || IsLinkPath(Path.Combine(full, name)))
                        return Fail($"hash missing for {name} (evidence.json lists no SHA-256 for it)", ignored);
                    continue;
                }
                var data = ReadOne(full, name, maxFileBytes, out why);
                if (data is null) return Fail(why!, ignored);
                if (!string.Equals(Sha256Hex.Of(data), expected.Sha, StringComparison.OrdinalIgnoreCase))
                    return Fail($"hash mismatch for {name}", ignored);
                bytes[name] = data;
            }
            try
            {
                var headers = MailConnect.ParseHeaders(bytes[EvidenceBundleWriter.MessageFile]);
                if (ProbeMatcher.Match(headers, new[] { evidence.ProbeId }) is null)
                    return Fail("message.eml does not carry the probe id", ignored);
            }
            catch (FormatException)
            {
                return Fail("message.eml is not a message", ignored);
            }
            return new BundleCheck(new VerifiedBundle(full, bytes[EvidenceBundleWriter.TranscriptFile], bytes[EvidenceBundleWriter.MessageFile], json), null, ignored);
        }

        private static BundleCheck Fail(string problem, List<string> ignored) => new BundleCheck(null, problem, ignored);

        private static bool IsLinkPath(string path)
        {
            try
            {
                var fi = new FileInfo(path);
                return (fi.Exists || new DirectoryInfo(path).Exists || (int)fi.Attributes != -1) && IsLink(fi);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is ArgumentException) { return false; }
        }

        /// <summary>One known file, directly in the bundle folder, a regular file (not a link), bounded.</summary>
        private static byte[]? ReadOne(string folder, string name, long max, out string? problem)
        {
            problem = null;
            var path = Path.Combine(folder, name);
            try
            {
                var info = new FileInfo(path);
                if (IsLinkPath(path))
                {
                    problem = $"{name} refused (a symbolic link or reparse point)";
                    return null;
                }
                if (!info.Exists)
                {
                    problem = name == EvidenceBundleWriter.JsonFile ? "bundle missing (no evidence.json)" : $"{name} missing from the bundle";
                    return null;
                }
                if (info.Length > max)
                {
                    problem = $"{name} ({info.Length.ToString(CultureInfo.InvariantCulture)} bytes) is larger than {max.ToString(CultureInfo.InvariantCulture)} bytes";
                    return null;
                }
                byte[] data;
                using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
                {
                    if (fs.Length > max)
                    {
                        problem = $"{name} is larger than {max.ToString(CultureInfo.InvariantCulture)} bytes";
                        return null;
                    }
                    data = new byte[fs.Length];
                    var read = 0;
                    while (read < data.Length)
                    {
                        var n = fs.Read(data, read, data.Length - read);
                        if (n <= 0) break;
                        read += n;
                    }
                    if (read != data.Length) { problem = $"{name} changed while it was read"; return null; }
                }
                // Swapped for a link while it was read: refuse.
                if (IsLinkPath(path)) { problem = $"{name} refused (a symbolic link or reparse point)"; return null; }
                return data;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is ArgumentException || ex is NotSupportedException)
            {
                problem = $"{name} could not be read ({NoticeText.OneLine(ex.Message, 200)})";
                return null;
            }
        }
    }
}
