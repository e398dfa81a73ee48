from decimal import Decimal


def test_master_fixture_builds(sf, master, users):
    with sf.transaction("sp1") as env:
        customers = env.search("sale.customer")
        assert [c.code for c in customers] == ["C001"]  # sp1 sees only their customer
    with sf.transaction("manager") as env:
        assert len(env.search("sale.customer")) == 2
        assert env.get("sale.product", master.product_ids[0]).list_price == Decimal("100.00")
