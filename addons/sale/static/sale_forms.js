/* salesflow sale forms: live order totals, "add a line" / remove buttons, the payment form's
 * customer switch. A static file (the Content-Security-Policy allows no inline script); every
 * form still works without it, and the server stays the authority: what is saved is computed
 * by the services, this only shows the figures before saving.
 *
 * Money here is never a JavaScript Number: Numbers are binary floats (0.1 + 0.2 !==
 * 0.3, and 1.005 * 100 is 100.49999999999999), so a float would round some lines to the wrong
 * cent. Every value is parsed from its decimal text into a BigInt of its smallest unit
 * (quantities in thousandths, prices, discounts and tax rates in millionths, amounts in the
 * currency's minor unit) and rounded exactly as core.money does it (docs/sale.md, "Money and
 * rounding"): half up, to the minor unit, once per line:
 *   tax excluded: untaxed = round(qty x price x (1 - discount/100)), tax = round(untaxed x rate)
 *   tax included: total = round(qty x price x (1 - discount/100)),
 *                 tax = round(total x rate / (1 + rate)), untaxed = total - tax
 * and the order's totals are the sums of the rounded lines.
 */
(function () {
  "use strict";

  var QTY_DIGITS = 3;
  var PRICE_DIGITS = 6;
  var MILLION = 1000000n;

  /* "12.5" -> 12500n for digits = 3; "" -> fallback; not a plain decimal or too many decimals
   * -> null (the server would refuse it too). */
  function parseScaled(text, digits, fallback) {
    var value = (text || "").trim();
    if (value === "") return fallback;
    var m = /^(\d*)(?:\.(\d*))?$/.exec(value);
    if (!m || (m[1] === "" && !m[2])) return null;
    var frac = m[2] || "";
    if (frac.length > digits) return null;
    return BigInt((m[1] || "0") + frac.padEnd(digits, "0"));
  }

  /* n / d rounded half up, for n >= 0 and d > 0 (exact: integer arithmetic). */
  function divHalfUp(n, d) {
    return (2n * n + d) / (2n * d);
  }

  /* One line's {untaxed, tax, total} in minor units, or null when it is incomplete. */
  function lineAmounts(qty, price, discount, rate, included, digits) {
    // qty x price x (100 - discount) / 100 carries 3 + 6 + 6 + 2 = 17 decimals
    var gross = qty * price * (100n * MILLION - discount);
    var amount = divHalfUp(gross * 10n ** BigInt(digits), 10n ** 17n);
    var untaxed, tax, total;
    if (included) {
      total = amount;
      tax = divHalfUp(total * rate, MILLION + rate);  // total x rate / (1 + rate)
      untaxed = total - tax;
    } else {
      untaxed = amount;
      tax = divHalfUp(untaxed * rate, MILLION);
      total = untaxed + tax;
    }
    return { untaxed: untaxed, tax: tax, total: total };
  }

  /* 123456n, 2 digits, "¥" -> "¥1,234.56" (the grouping both en and zh_CN use). */
  function formatMinor(n, digits, symbol) {
    var text = n.toString().padStart(digits + 1, "0");
    var whole = digits ? text.slice(0, -digits) : text;
    var frac = digits ? "." + text.slice(-digits) : "";
    return symbol + whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + frac;
  }

  function field(row, suffix) {
    return row.querySelector('[name$="-' + suffix + '"]');
  }

  /* -- order lines: live totals ------------------------------------------------------------ */

  function setupLiveTotals(table) {
    var catalog = JSON.parse(table.getAttribute("data-catalog") || "{}");
    var products = catalog.products || {};
    var customers = catalog.customers || {};
    var form = table.closest("form");
    var customerSelect = form.querySelector("[data-customer]");

    function money() {
      var c = customerSelect && customers[customerSelect.value];
      return c ? { symbol: c.symbol, digits: c.digits } : { symbol: "", digits: 2 };
    }

    function show(output, value, cur) {
      output.textContent = value === null ? "—" : formatMinor(value, cur.digits, cur.symbol);
    }

    function recompute() {
      var cur = money();
      var sums = { untaxed: 0n, tax: 0n, total: 0n };
      var counted = 0;
      table.querySelectorAll("tbody tr[data-row]").forEach(function (row) {
        if (row.hidden) return;
        var product = products[field(row, "product_id").value];
        var inputs = { qty: field(row, "quantity"), price: field(row, "unit_price"),
                       discount: field(row, "discount") };
        var qty = parseScaled(inputs.qty.value, QTY_DIGITS, null);
        var price = parseScaled(inputs.price.value, PRICE_DIGITS,
                                product ? parseScaled(product.price, PRICE_DIGITS, null) : null);
        var discount = parseScaled(inputs.discount.value, PRICE_DIGITS, 0n);
        inputs.qty.classList.toggle("invalid", inputs.qty.value.trim() !== "" && qty === null);
        inputs.price.classList.toggle("invalid", price === null && inputs.price.value.trim() !== "");
        inputs.discount.classList.toggle("invalid", discount === null ||
                                         (discount !== null && discount > 100n * MILLION));
        var line = null;
        if (product && qty !== null && price !== null && discount !== null &&
            discount <= 100n * MILLION) {
          line = lineAmounts(qty, price, discount, parseScaled(product.rate, PRICE_DIGITS, 0n),
                             product.included, cur.digits);
          sums.untaxed += line.untaxed;
          sums.tax += line.tax;
          sums.total += line.total;
          counted += 1;
        }
        show(row.querySelector("[data-untaxed]"), line && line.untaxed, cur);
        show(row.querySelector("[data-tax]"), line && line.tax, cur);
        show(row.querySelector("[data-total]"), line && line.total, cur);
      });
      show(form.querySelector("[data-order-untaxed]"), counted ? sums.untaxed : null, cur);
      show(form.querySelector("[data-order-tax]"), counted ? sums.tax : null, cur);
      show(form.querySelector("[data-order-total]"), counted ? sums.total : null, cur);
    }

    /* choosing a product puts its list price in the price field, unless the user typed one */
    table.addEventListener("change", function (event) {
      var select = event.target;
      if (!select.matches('[name$="-product_id"]')) return;
      var row = select.closest("tr");
      var price = field(row, "unit_price");
      var product = products[select.value];
      if (product && (price.value.trim() === "" || price.dataset.auto === price.value)) {
        price.value = product.price;
        price.dataset.auto = product.price;
      }
      if (product && field(row, "quantity").value.trim() === "") field(row, "quantity").value = "1";
      recompute();
    });
    table.addEventListener("input", recompute);
    if (customerSelect) customerSelect.addEventListener("change", recompute);
    table.addEventListener("rows-changed", recompute);
    recompute();
  }

  /* -- tables of rows: add and remove ----------------------------------------------------- */

  /* a copy of the table's last row, renumbered (lines-2-quantity -> lines-3-quantity), empty */
  function addRow(table) {
    var rows = table.querySelectorAll("tbody tr[data-row]");
    var last = rows[rows.length - 1];
    var index = rows.length;
    var copy = last.cloneNode(true);
    copy.hidden = false;
    copy.querySelectorAll("[name], [id], label[for]").forEach(function (el) {
      ["name", "id", "for"].forEach(function (attr) {
        var value = el.getAttribute(attr);
        if (value) el.setAttribute(attr, value.replace(/-\d+-/, "-" + index + "-"));
      });
    });
    copy.querySelectorAll("input, textarea").forEach(function (el) {
      el.value = el.defaultValue && el.name.endsWith("-country") ? el.defaultValue : "";
      delete el.dataset.auto;
      el.classList.remove("invalid");
    });
    copy.querySelectorAll("select").forEach(function (el) { el.selectedIndex = 0; });
    copy.querySelectorAll(".error").forEach(function (el) { el.remove(); });
    copy.querySelectorAll("output").forEach(function (el) { el.textContent = "—"; });
    last.parentNode.appendChild(copy);
    table.dispatchEvent(new CustomEvent("rows-changed"));
    var first = copy.querySelector("select, input:not([type=hidden])");
    if (first) first.focus();
  }

  /* an emptied row is left out when saving (a removed line, contact or address) */
  function removeRow(row) {
    var table = row.closest("table");
    var visible = table.querySelectorAll("tbody tr[data-row]:not([hidden])").length;
    row.querySelectorAll("input:not([type=hidden]), textarea").forEach(function (el) { el.value = ""; });
    row.querySelectorAll("select").forEach(function (el) {
      el.value = "";
      if (el.selectedIndex < 0) el.selectedIndex = 0;
    });
    if (visible > 1) row.hidden = true;
    table.dispatchEvent(new CustomEvent("rows-changed"));
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) {
      var table = document.getElementById(add.getAttribute("data-add-row"));
      if (table) addRow(table);
      return;
    }
    var remove = event.target.closest("[data-remove-row]");
    if (remove) removeRow(remove.closest("tr"));
  });

  /* -- payment form: another customer shows that customer's open invoices ------------------- */

  function setupPayment(form) {
    var customer = form.querySelector("[data-reload-customer]");
    if (customer) {
      customer.addEventListener("change", function () {
        var url = new URL(window.location.href);
        url.search = "";
        if (customer.value) url.searchParams.set("customer_id", customer.value);
        window.location.assign(url.toString());
      });
    }
    var table = form.querySelector("[data-allocations]");
    function sync() {
      var manual = form.querySelector('input[name="allocation"][value="manual"]');
      var on = manual ? manual.checked : true;
      if (table) {
        table.classList.toggle("disabled", !on);
        table.querySelectorAll('input[name$="-amount"]').forEach(function (el) { el.readOnly = !on; });
      }
    }
    form.querySelectorAll('input[name="allocation"]').forEach(function (el) {
      el.addEventListener("change", sync);
    });
    sync();
  }

  function init() {
    document.querySelectorAll("table[data-live-totals]").forEach(setupLiveTotals);
    document.querySelectorAll("form[data-payment]").forEach(setupPayment);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
