using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lifeguard.Samples.WebGateway.Tests;

public sealed class StackingTests(GatewayFixture gateway) : IClassFixture<GatewayFixture>
{
    [Fact]
    public async Task Post_stack_puts_nearby_deliveries_on_one_courier_and_the_far_one_on_another()
    {
        using var response = await Batches.PostAsync(gateway.Client, Batches.Small());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var plan = await Batches.ReadJsonAsync(response);
        Assert.Equal("small", plan.GetProperty("batch").GetString());
        var stacks = plan.GetProperty("stacks").EnumerateArray().ToList();
        Assert.Equal(2, stacks.Count);

        // d1 and d2 are picked up half a kilometre apart next to c1: one stack, c1's. d3 is next to c2.
        Assert.Equal("c1", stacks[0].GetProperty("courier").GetString());
        Assert.Equal(["d1", "d2"], stacks[0].GetProperty("deliveries").EnumerateArray().Select(d => d.GetString()));
        Assert.Equal(["+d1", "+d2", "-d1", "-d2"], stacks[0].GetProperty("stops").EnumerateArray().Select(Stop));
        Assert.Equal(5.0, stacks[0].GetProperty("distanceKm").GetDouble()); // 1 + 0.5 to the pickups, 2.5 + 1 to the dropoffs
        Assert.Equal("c2", stacks[1].GetProperty("courier").GetString());
        Assert.Equal(["d3"], stacks[1].GetProperty("deliveries").EnumerateArray().Select(d => d.GetString()));
        Assert.Equal(3, plan.GetProperty("deliveries").GetInt32());
        Assert.Equal(2, plan.GetProperty("stackedDeliveries").GetInt32());
        Assert.Equal(0, plan.GetProperty("lateDeliveries").GetInt32());
        Assert.Equal(8.0, plan.GetProperty("totalDistanceKm").GetDouble());
    }

    [Fact]
    public async Task Post_stack_answers_the_plan_the_optimizer_makes_when_run_directly()
    {
        var batches = Batches.Bundled(20);
        var expected = await Batches.PlanDirectlyAsync(batches);

        // The client speaks camelCase and Python snake_case: the gateway's records and the pool map between them.
        for (var i = 0; i < batches.Count; i++)
        {
            using var response = await Batches.PostAsync(gateway.Client, Batches.ToCamelCase(batches[i]));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var plan = await Batches.ReadJsonAsync(response);
            Assert.True(
                JsonElement.DeepEquals(expected[i], Batches.ToSnakeCase(plan)),
                $"Batch {i}: the gateway answered\n{plan}\nbut the optimiser planned\n{expected[i]}");
        }
    }

    [Fact]
    public async Task Concurrent_posts_all_succeed_each_with_its_own_plan()
    {
        var batches = Batches.Bundled(48).Select(Batches.ToCamelCase).ToList();

        var responses = await Task.WhenAll(batches.Select(batch => Batches.PostAsync(gateway.Client, batch)));

        try
        {
            Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
            var labels = await Task.WhenAll(responses.Select(async r => (await Batches.ReadJsonAsync(r)).GetProperty("batch").GetString()));
            Assert.Equal(batches.Select(b => JsonElement.Parse(b).GetProperty("batch").GetString()), labels);
        }
        finally
        {
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }
    }

    [Fact]
    public async Task A_batchs_camelCase_fields_reach_the_optimizer_as_its_snake_case_keys()
    {
        // Each of these changes the plan only if the optimiser receives it: were a key lost on the way, its
        // default (ready at 0, no due time, 0.3 km a minute) would plan the batch without complaint.
        var early = Batches.Small();
        early["deliveries"]![0]!["readyAt"] = 30;
        early["deliveries"]![0]!["dueBy"] = 10;
        var slow = Batches.Small();
        slow["speedKmPerMin"] = 0.01;
        slow["deliveries"]![0]!["dueBy"] = 20;

        using var rejected = await Batches.PostAsync(gateway.Client, early);
        using var late = await Batches.PostAsync(gateway.Client, slow);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, rejected.StatusCode);
        Assert.Equal(
            "delivery 'd1' is due by minute 10, before it is ready at minute 30",
            (await Batches.ReadJsonAsync(rejected)).GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.OK, late.StatusCode);
        var plan = await Batches.ReadJsonAsync(late);
        Assert.Contains("d1", plan.GetProperty("stacks").EnumerateArray().SelectMany(stack => stack.GetProperty("late").EnumerateArray()).Select(d => d.GetString()));
        Assert.True(plan.GetProperty("lateDeliveries").GetInt32() >= 1);
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("")]
    [InlineData("""{"deliveries": "not a list"}""")]
    [InlineData("""{"couriers": [{"id": "c1", "at": [0, "north"]}]}""")]
    public async Task A_body_that_is_not_a_batch_is_a_400_problem(string body)
    {
        using var response = await Batches.PostAsync(gateway.Client, body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await Batches.ReadJsonAsync(response);
        Assert.Equal(400, problem.GetProperty("status").GetInt32());
        Assert.Equal("The request is not a delivery batch", problem.GetProperty("title").GetString());
    }

    [Fact]
    public async Task A_batch_of_the_wrong_shape_is_a_400_problem_naming_each_offending_path()
    {
        var batch = Batches.Small();
        batch["deliveries"]![1]!["pickup"] = new JsonArray(1, 2, 3);
        batch["deliveries"]![2]!.AsObject().Remove("id");
        batch["couriers"] = new JsonArray();

        using var response = await Batches.PostAsync(gateway.Client, batch);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await Batches.ReadJsonAsync(response)).GetProperty("errors");
        Assert.Equal(
            ["couriers", "deliveries[1].pickup", "deliveries[2].id"],
            errors.EnumerateObject().Select(e => e.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_batch_the_optimizer_rejects_is_a_422_problem_with_its_message_and_no_traceback()
    {
        var batch = Batches.Small();
        batch["capacity"] = 2;
        batch["deliveries"]![0]!["size"] = 5;

        using var response = await Batches.PostAsync(gateway.Client, batch);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        var problem = JsonElement.Parse(body);
        Assert.Equal("delivery 'd1' has size 5, more than a courier's capacity of 2", problem.GetProperty("detail").GetString());
        Assert.False(problem.TryGetProperty("traceback", out _));
        Assert.DoesNotContain("Traceback", body, StringComparison.Ordinal);
        Assert.DoesNotContain("optimizer.py", body, StringComparison.Ordinal);

        // The worker that raised stays in the pool and serves the next request.
        using var next = await Batches.PostAsync(gateway.Client, Batches.Small());
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Equal(0, gateway.Factory.Optimizer.GetStatus().TotalDeaths);
    }

    private static string Stop(JsonElement stop)
        => (stop.GetProperty("kind").GetString() == "pickup" ? "+" : "-") + stop.GetProperty("delivery").GetString();
}
