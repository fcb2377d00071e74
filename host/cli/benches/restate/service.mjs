// The server bench's workflow on Restate: what Cairn's `steps` guest does.
// `count` steps, step i returning i*i, a durable sleep of `wait_seconds`
// after step `wait_after` if given; the result is the sum.
import * as restate from "@restatedev/restate-sdk";

// Debian's Node 20 lacks what this SDK expects of Node 22.
Promise.withResolvers ??= function () {
  let resolve, reject;
  const promise = new Promise((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
};

const steps = restate.service({
  name: "steps",
  handlers: {
    run: async (ctx, input) => {
      let sum = 0;
      for (let i = 1; i <= input.count; i++) {
        sum += await ctx.run(`step-${i}`, async () => i * i);
        if (input.wait_after === i) {
          await ctx.sleep(input.wait_seconds * 1000);
        }
      }
      return sum;
    },
  },
});

restate.endpoint().bind(steps).listen(Number(process.env.PORT));
