namespace Lifeguard.Tests;

public sealed class SizingAdviceTests
{
    [Fact]
    public void Compute_SeedExample_Size10MaxOverflow5()
    {
        // The poolboy article's numbers: 10 requests a second, 1 s each, peaks of 15 a second.
        var advice = SizingAdvice.Compute(10, TimeSpan.FromSeconds(1), peakRate: 15);
        Assert.Equal(10, advice.Size);
        Assert.Equal(5, advice.MaxOverflow);
        Assert.Equal(10, advice.MeanBusy, precision: 9);
    }

    [Theory]
    [InlineData(250, 40, null, 1.0, 10, 0)]      // 250/s × 0.04 s = 10 exactly
    [InlineData(250, 40, null, 1.25, 13, 0)]     // ⌈12.5⌉
    [InlineData(0.1, 30_000, null, 1.0, 3, 0)]   // 0.1 × 30 = 3.0000000000000004 in binary: still 3
    [InlineData(3, 100, null, 1.0, 1, 0)]        // 0.3 busy: at least one worker
    [InlineData(0, 1000, null, 1.0, 1, 0)]       // no load: still one worker
    [InlineData(7, 1500, 9.5, 1.0, 11, 4)]       // ⌈10.5⌉, ⌈3.75⌉
    public void Compute_RoundsUpAndKeepsOneWorker(double rate, int serviceMs, double? peak, double headroom, int size, int overflow)
    {
        var advice = SizingAdvice.Compute(rate, TimeSpan.FromMilliseconds(serviceMs), peak, headroom);
        Assert.Equal((size, overflow), (advice.Size, advice.MaxOverflow));
    }

    [Theory]
    [InlineData(-1, 1000, null, 1.0, "arrivalRate")]
    [InlineData(double.NaN, 1000, null, 1.0, "arrivalRate")]
    [InlineData(1, 0, null, 1.0, "serviceTime")]
    [InlineData(10, 1000, 5.0, 1.0, "peakRate")]
    [InlineData(10, 1000, null, 0.5, "headroom")]
    public void Compute_InvalidInput_NamesTheArgument(double rate, int serviceMs, double? peak, double headroom, string parameter)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => SizingAdvice.Compute(rate, TimeSpan.FromMilliseconds(serviceMs), peak, headroom));
        Assert.Equal(parameter, error.ParamName);
    }

    [Fact]
    public void Explain_GivesTheReasoningWithTheNumbers()
    {
        var lines = SizingAdvice.Compute(10, TimeSpan.FromSeconds(1), peakRate: 15).Explain().Split(Environment.NewLine);
        Assert.Equal(3, lines.Length);
        Assert.Contains("10/s × 1 s = 10", lines[0]);
        Assert.Contains("Size = ⌈L⌉ = 10", lines[1]);
        Assert.Contains("(15 − 10)/s × 1 s⌉ = 5", lines[2]);
    }
}
