using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using MimeKit;
using Omr.Engine.Evidence;

namespace Omr.Engine.Notices
{
    /// <summary>The evidence a notice carries: only the files of a verified bundle (<see cref="EvidenceVerifier"/>).</summary>
    public static partial class NoticeComposer
    {
        private sealed class HostFiles
        {
            public RelayEvidence Evidence = null!;
            public string Tag = string.Empty;
            public byte[]? Transcript;
            public MimeMessage? Message;
            public byte[]? Json;
            public List<string> Missing = new List<string>();
        }

        private static HostFiles LoadFiles(RelayEvidence ev, int index, IReadOnlyList<RelayEvidence> all, NoticeOptions options)
        {
            var r = ev.Result ?? new RelayTestResult();
            var tag = EvidenceBundleWriter.Safe(ev.ComputerName ?? r.ComputerName ?? ev.Address ?? r.Address, 60) + "_" + Port(ev).ToString(CultureInfo.InvariantCulture);
            // Two results for the same host and port (two addresses of one name): keep names unique.
            if (all.Take(index).Any(o => EvidenceBundleWriter.Safe(o.ComputerName ?? o.Result?.ComputerName ?? o.Address ?? o.Result?.Address, 60) + "_" + Port(o).ToString(CultureInfo.InvariantCulture) == tag))
                tag += "_" + EvidenceBundleWriter.Safe(ev.Address ?? r.Address, 45);
            var f = new HostFiles { Evidence = ev, Tag = tag };

            // Attachments come only from a verified bundle (EvidenceVerifier): its own files, hashes checked, no links.
            var check = EvidenceVerifier.ReadBundle(ev, options.MaxAttachmentBytes);
            foreach (var path in check.Ignored)
                f.Missing.Add($"{path} is not a file of the evidence bundle, so it is not read or attached.");
            var bundle = check.Bundle;
            if (bundle is null)
            {
                var hasBundle = ev.Files.Length > 0 || ev.BundlePath != null;
                f.Missing.Add(hasBundle
                    ? $"the evidence bundle is not attached: {check.Problem}."
                    : "no evidence bundle was written for this host, so the verification message and evidence.json are not attached.");
                if (r.Transcript != null && r.Transcript.Length > 0)
                    f.Transcript = Encoding.UTF8.GetBytes(EvidenceBundleWriter.TranscriptLog(r.Transcript));
                return f;
            }
            f.Transcript = bundle.Transcript;
            f.Json = bundle.Json;
            try
            {
                using var ms = new MemoryStream(bundle.Message);
                f.Message = MimeMessage.Load(ms);
            }
            catch (FormatException ex)
            {
                f.Missing.Add($"{EvidenceBundleWriter.MessageFile} could not be parsed as a message ({NoticeText.OneLine(ex.Message, 200)}); it is not attached.");
            }
            return f;
        }

        private static MimePart Attachment(byte[] bytes, string type, string subtype, string name)
        {
            var part = new MimePart(type, subtype)
            {
                Content = new MimeContent(new MemoryStream(bytes)),
                ContentDisposition = new ContentDisposition(ContentDisposition.Attachment) { FileName = name },
                ContentTransferEncoding = ContentEncoding.Base64,
            };
            if (type == "text") part.ContentType.Charset = "utf-8";
            return part;
        }
    }
}
