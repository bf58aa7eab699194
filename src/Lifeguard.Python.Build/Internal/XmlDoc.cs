using System.Text;

namespace Lifeguard.Python.Build.Internal;

/// <summary>Docstrings as XML documentation comments: escaped, paragraphs kept. Stateless.</summary>
internal static class XmlDoc
{
    /// <summary>Text for an XML element: <c>&amp;</c>, <c>&lt;</c>, <c>&gt;</c> escaped, characters XML cannot hold dropped.</summary>
    public static string Escape(string text)
    {
        var escaped = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            switch (c)
            {
                case '&':
                    escaped.Append("&amp;");
                    break;
                case '<':
                    escaped.Append("&lt;");
                    break;
                case '>':
                    escaped.Append("&gt;");
                    break;
                case '\t':
                    escaped.Append("    ");
                    break;
                default:
                    if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                    {
                        escaped.Append(c).Append(text[++i]);
                    }
                    else if (c >= ' ' && !char.IsSurrogate(c) && c is not ('\uFFFE' or '\uFFFF' or '\u0085' or '\u2028' or '\u2029'))
                    {
                        escaped.Append(c);
                    }

                    break;
            }
        }

        return escaped.ToString();
    }

    /// <summary>A docstring's paragraphs (separated by blank lines), each a list of escaped lines.</summary>
    public static List<List<string>> Paragraphs(string? docstring)
    {
        var paragraphs = new List<List<string>>();
        var current = new List<string>();
        foreach (var line in (docstring ?? "").Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n'))
        {
            if (line.Trim().Length == 0)
            {
                if (current.Count > 0)
                {
                    paragraphs.Add(current);
                    current = [];
                }

                continue;
            }

            current.Add(Escape(line.TrimEnd()));
        }

        if (current.Count > 0)
        {
            paragraphs.Add(current);
        }

        return paragraphs;
    }

    /// <summary>Text inside <c>&lt;c&gt;</c>: escaped, on one line.</summary>
    public static string Code(string text) => "<c>" + Escape(text.ReplaceLineEndings(" ")) + "</c>";
}
