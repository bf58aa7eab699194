using System.Text;

namespace Lifeguard.Python.Build.Internal;

/// <summary>Lines of C# at an indentation of four spaces a level, with <c>\n</c> line ends. Not thread-safe.</summary>
internal sealed class CodeWriter
{
    private readonly StringBuilder _text = new();
    private int _depth;

    public void Line(string line = "")
    {
        if (line.Length > 0)
        {
            _text.Append(' ', _depth * 4).Append(line);
        }

        _text.Append('\n');
    }

    public void Lines(IEnumerable<string> lines, string prefix)
    {
        foreach (var line in lines)
        {
            Line(prefix + line);
        }
    }

    /// <summary>A line one level deeper than the current one: a continuation.</summary>
    public void Indented(string line)
    {
        _depth++;
        Line(line);
        _depth--;
    }

    public void Open()
    {
        Line("{");
        _depth++;
    }

    public void Close()
    {
        _depth--;
        Line("}");
    }

    public override string ToString() => _text.ToString();
}
