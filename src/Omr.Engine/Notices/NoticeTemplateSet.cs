using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Resources;
using System.Text;

namespace Omr.Engine.Notices
{
    /// <summary>The three templates of a notice: subject.txt, notice.txt, notice.html.</summary>
    public sealed class NoticeTemplateSet
    {
        public const string SubjectFile = "subject.txt";
        public const string TextFile = "notice.txt";
        public const string HtmlFile = "notice.html";
        private const int MaxTemplateBytes = 1024 * 1024;

        private static readonly Lazy<NoticeTemplateSet> _default = new Lazy<NoticeTemplateSet>(LoadDefault);

        public NoticeTemplateSet(NoticeTemplate subject, NoticeTemplate text, NoticeTemplate html)
        {
            Subject = subject; Text = text; Html = html;
        }

        public NoticeTemplate Subject { get; }
        public NoticeTemplate Text { get; }
        public NoticeTemplate Html { get; }
        /// <summary>Files that were not in the template folder, so the defaults were used for them.</summary>
        public IReadOnlyList<string> Defaulted { get; private set; } = Array.Empty<string>();

        /// <summary>The en-US defaults embedded in the engine (Notices/NoticeTemplates.resx → Templates/*).</summary>
        public static NoticeTemplateSet Default => _default.Value;

        /// <summary>The embedded default text of one template file (subject.txt, notice.txt, notice.html).</summary>
        public static string DefaultSource(string file)
        {
            var rm = new ResourceManager("Omr.Engine.Notices.NoticeTemplates", typeof(NoticeTemplateSet).Assembly);
            return rm.GetString(file, CultureInfo.InvariantCulture) ?? throw new InvalidOperationException($"The embedded template '{file}' is missing from Omr.Engine.");
        }

        private static NoticeTemplateSet LoadDefault()
            => new NoticeTemplateSet(
                NoticeTemplate.Parse(DefaultSource(SubjectFile), SubjectFile),
                NoticeTemplate.Parse(DefaultSource(TextFile), TextFile),
                NoticeTemplate.Parse(DefaultSource(HtmlFile), HtmlFile));

        /// <summary>
        /// Loads subject.txt, notice.txt and notice.html from <paramref name="folder"/>; a missing file
        /// falls back to the default (listed in <see cref="Defaulted"/>). Throws TemplateException on a
        /// syntax error, DirectoryNotFoundException when the folder does not exist.
        /// </summary>
        public static NoticeTemplateSet Load(string folder)
        {
            if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"The template folder '{folder}' does not exist.");
            var defaulted = new List<string>();
            NoticeTemplate One(string file)
            {
                var path = Path.Combine(folder, file);
                if (!File.Exists(path))
                {
                    defaulted.Add(file);
                    return NoticeTemplate.Parse(DefaultSource(file), file);
                }
                var info = new FileInfo(path);
                if (info.Length > MaxTemplateBytes) throw new TemplateException($"{path} is larger than {MaxTemplateBytes} bytes.");
                return NoticeTemplate.Parse(File.ReadAllText(path, Encoding.UTF8), path);
            }
            var set = new NoticeTemplateSet(One(SubjectFile), One(TextFile), One(HtmlFile)) { Defaulted = defaulted };
            return set;
        }
    }
}
