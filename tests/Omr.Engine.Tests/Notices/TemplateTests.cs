using Omr.Engine.Notices;
using Xunit;

namespace Omr.Engine.Tests.Notices;

public class TemplateTests
{
    [Fact]
    public void Renders_values_lists_and_conditions()
    {
        var t = NoticeTemplate.Parse("Hi {{Domain}}!\n{{#each Hosts}}\n- {{Name}} for {{Domain}}\n{{/each}}\n{{#if None}}no{{else}}yes{{/if}}\n");
        var m = new TemplateModel
        {
            ["Domain"] = "example.com",
            ["Hosts"] = new List<TemplateModel> { new() { ["Name"] = "a" }, new() { ["Name"] = "b" } },
            ["None"] = new List<TemplateModel>(),
        };
        Assert.Equal("Hi example.com!\n- a for example.com\n- b for example.com\nyes\n", t.Render(m, html: false));
    }

    [Fact]
    public void Html_mode_encodes_every_value()
    {
        var t = NoticeTemplate.Parse("<p>{{Banner}}</p>{{#each L}}<i>{{Value}}</i>{{/each}}");
        var m = new TemplateModel { ["Banner"] = "<script>alert('x')</script> & \"q\"", ["L"] = new List<TemplateModel> { new() { ["Value"] = "<b>" } } };
        var html = t.Render(m, html: true);
        Assert.Equal("<p>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;</p><i>&lt;b&gt;</i>", html);
        Assert.DoesNotContain("<script>", html);
    }

    [Fact]
    public void Text_mode_does_not_encode()
        => Assert.Equal("a <b> & c", NoticeTemplate.Parse("a {{X}} & c").Render(new TemplateModel { ["X"] = "<b>" }, html: false));

    [Fact]
    public void Values_are_never_re_parsed_as_templates()
    {
        var t = NoticeTemplate.Parse("{{X}}");
        Assert.Equal("{{Secret}}", t.Render(new TemplateModel { ["X"] = "{{Secret}}", ["Secret"] = "leak" }, html: false));
    }

    [Fact]
    public void Unknown_names_render_empty_and_are_reported()
    {
        var unknown = new List<string>();
        Assert.Equal("[]", NoticeTemplate.Parse("[{{Nope}}]").Render(new TemplateModel(), false, unknown));
        Assert.Equal(new[] { "Nope" }, unknown);
    }

    [Theory]
    [InlineData("{{#each X}}no end")]
    [InlineData("{{/if}}")]
    [InlineData("{{#if X}}{{/each}}")]
    [InlineData("{{X.Y}}")]
    [InlineData("{{{X}}}")]
    [InlineData("{{X | upper}}")]
    [InlineData("{{else}}")]
    [InlineData("open {{ never closed")]
    public void Bad_syntax_is_an_error(string text)
        => Assert.Throws<TemplateException>(() => NoticeTemplate.Parse(text));

    [Fact]
    public void Default_templates_are_embedded_and_parse()
    {
        var set = NoticeTemplateSet.Default;
        // The fixes are data (Rules/Remediations.cs), ordered by the server's software: both versions list them.
        Assert.Contains("{{#each Fixes}}", NoticeTemplateSet.DefaultSource("notice.txt"));
        Assert.Contains("{{#each Fixes}}", NoticeTemplateSet.DefaultSource("notice.html"));
        Assert.Contains("How to fix it", NoticeTemplateSet.DefaultSource("notice.html"));
        Assert.NotNull(set.Subject);
    }

    [Fact]
    public void Template_folder_overrides_and_falls_back()
    {
        var dir = Evidence.EvidenceTestData.TempDir();
        File.WriteAllText(Path.Combine(dir, "subject.txt"), "Relay at {{Domain}}");
        var set = NoticeTemplateSet.Load(dir);
        Assert.Equal(new[] { "notice.txt", "notice.html" }, set.Defaulted);
        Assert.Equal("Relay at x.example", set.Subject.Render(new TemplateModel { ["Domain"] = "x.example" }, false));
    }
}
